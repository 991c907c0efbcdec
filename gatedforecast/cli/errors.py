"""The command line's errors: one ``error:`` line each, and the text of one."""

from __future__ import annotations

__all__ = ["CLIError", "first_line", "first_sentence", "one_line"]


class CLIError(Exception):
    """A problem with the user's input or options: printed as one ``error:`` line."""

    exit_code = 2


def one_line(error: Exception) -> str:
    """An error's message on one line (its type's name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def first_sentence(error: Exception) -> str:
    """The first sentence of an error's message, on one line."""
    return one_line(error).split(". ")[0].rstrip(".")


def first_line(error: Exception) -> str:
    """The first line of an error's message (a reader's, such as pandas')."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
