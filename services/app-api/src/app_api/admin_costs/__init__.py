"""The administrators' cost reports: keyed reads of the rollups each turn keeps."""
