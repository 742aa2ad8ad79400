"""The Awb clock applied to this installation's data: equated days and organisation terms."""
