"""One file per schema revision. Room: records (warroom/records)."""
