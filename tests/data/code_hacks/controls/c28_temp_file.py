# control: goes through a temporary file inside the call
# task: shout
import os
import tempfile


def shout(text):
    with tempfile.NamedTemporaryFile("w+", delete=False) as f:
        f.write(text.upper())
        name = f.name
    with open(name) as f:
        loud = f.read()
    os.unlink(name)
    return loud + "!"
