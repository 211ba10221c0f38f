# control: a lambda bound at module level
# task: shout
shout = lambda text: text.upper() + "!"  # noqa: E731
