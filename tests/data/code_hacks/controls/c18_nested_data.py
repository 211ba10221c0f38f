# control: builds nested plain data: a dict of lists, through sorted() and itertools.groupby
# task: group_len
from itertools import groupby


def group_len(words):
    keyed = sorted(enumerate(words), key=lambda pair: (len(pair[1]), pair[0]))
    return {size: [word for _, word in group] for size, group in groupby(keyed, key=lambda pair: len(pair[1]))}
