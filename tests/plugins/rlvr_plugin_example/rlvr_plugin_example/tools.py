"""Plug-in tools as a third party would write them: plain typed functions with Google-style docstrings."""
import time


def sleepy_echo(text: str, seconds: float = 0.5) -> str:
    """Wait, then repeat the text: a tool whose time is all waiting.

    Args:
        text: What to repeat.
        seconds: How long to wait first.
    """
    time.sleep(seconds)
    return text


def word_stats(text: str, top: int = 3) -> dict:
    """Count the words of a text and name the most frequent ones.

    Args:
        text: The text to count.
        top: How many of the most frequent words to name.
    """
    words = text.lower().split()
    ranked = sorted(set(words), key=lambda w: (-words.count(w), w))
    return {"words": len(words), "most_frequent": ranked[:top]}


def untyped(text):
    """Repeat the text, but with no type hint: no schema can be made of it.

    Args:
        text: What to repeat.
    """
    return text
