# control: sorts its argument in place and returns None
# task: sort_in_place
def sort_in_place(lst):
    lst.sort()
