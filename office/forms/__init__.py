"""Office forms that belong to no single app: each module is named for the pages it serves."""
