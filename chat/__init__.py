"""Network adapters. The only code that talks to IRC servers or the terminal."""
