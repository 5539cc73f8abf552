"""The error raised when a dataset's files are not on disk."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is missing or incomplete under ``--data-root``.

    Its message is one line naming the expected path and where the files officially come from.
    """
