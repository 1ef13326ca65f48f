"""Everything that touches the database: models, migrations, the repository."""

from storage.repository import ItemRecord, MeetingRecord, Storage, StoredMeeting

__all__ = ["ItemRecord", "MeetingRecord", "Storage", "StoredMeeting"]
