# control: heapq and bisect doing the work
# task: sort_desc
import bisect
import heapq


def sort_desc(xs):
    ordered = []
    for x in xs:
        bisect.insort(ordered, x)
    return heapq.nlargest(len(ordered), ordered)
