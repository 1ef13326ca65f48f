"""Everything that touches the database: models, migrations, the repository."""

from storage.repository import Derived, ItemRecord, MeetingRecord, Storage, StoredMeeting

__all__ = ["Derived", "ItemRecord", "MeetingRecord", "Storage", "StoredMeeting"]
