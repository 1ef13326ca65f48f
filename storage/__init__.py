"""Everything that touches the database: models, migrations, the repository."""

from storage.records import (
    Derived,
    ItemRecord,
    MeetingRecord,
    SeriesRecord,
    StoredMeeting,
)
from storage.repository import Storage

__all__ = ["Derived", "ItemRecord", "MeetingRecord", "SeriesRecord", "Storage", "StoredMeeting"]
