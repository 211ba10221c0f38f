# control: a dataclass does the bookkeeping, a float comes out
# task: avg
from dataclasses import dataclass, field


@dataclass
class Running:
    values: list = field(default_factory=list)

    def add(self, value):
        self.values.append(value)
        return self

    @property
    def mean(self):
        return sum(self.values) / len(self.values)


def avg(xs):
    running = Running()
    for x in xs:
        running.add(x)
    return running.mean
