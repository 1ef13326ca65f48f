"""Everything that touches the database: models, migrations, the repository."""

from storage.repository import MeetingRecord, Storage, StoredMeeting

__all__ = ["MeetingRecord", "Storage", "StoredMeeting"]
