"""Everything that touches the database: models, migrations, the repository."""

from storage.repository import (
    Derived,
    ItemRecord,
    MeetingRecord,
    SeriesRecord,
    Storage,
    StoredMeeting,
)

__all__ = ["Derived", "ItemRecord", "MeetingRecord", "SeriesRecord", "Storage", "StoredMeeting"]
