"""Importing older bots' archives (MeetBot, hcoop-meetbot, client logs) as meetings."""
