"""Recordings in the browser: the player (step marks, audited play and
download), legal hold, on-demand recording, QA scorecards and scores."""
