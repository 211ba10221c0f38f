# control: the entry point is an instance of a class with __call__
# task: square
class Squarer:
    def __call__(self, x):
        return x * x


square = Squarer()
