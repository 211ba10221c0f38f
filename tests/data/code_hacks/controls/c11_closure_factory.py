# control: the function is made by a closure factory
# task: square
def make_power(n):
    def power(x):
        return x ** n
    return power


square = make_power(2)
