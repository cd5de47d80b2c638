"""Geometry helper: area and perimeter of common shapes, built on an abstract base class."""
# call: area "circle 2" => "circle r=2: area 12.566, perimeter 12.566"
# call: area "triangle 3 4 5" => "triangle 3\u00d74\u00d75: area 6, perimeter 12"
# call: area "triangle 1 2 10" => "Those sides do not make a triangle."
# call: area "hexagon 1" => "Shapes: circle R, rect W H, square S, triangle A B C"
# call: measure ["rect", [2.5, 4]] => {"shape": "rect", "area": 10.0, "perimeter": 13.0}
import abc
import math
import numbers

import pyward


class Shape(abc.ABC):
    sides_needed = 0

    def __init__(self, *sizes):
        if len(sizes) != self.sides_needed:
            raise TypeError("wrong number of sizes")
        if not all(isinstance(s, numbers.Real) and s > 0 for s in sizes):
            raise ValueError("sizes must be positive numbers")
        self.sizes = sizes
        self.check()

    def check(self):
        """Extra validation a shape may need beyond positive sizes."""

    @abc.abstractmethod
    def area(self):
        """Area in square units."""

    @abc.abstractmethod
    def perimeter(self):
        """Perimeter in units."""

    def label(self):
        return "×".join("{:g}".format(s) for s in self.sizes)


class Circle(Shape):
    sides_needed = 1

    def area(self):
        return math.pi * self.sizes[0] ** 2

    def perimeter(self):
        return math.tau * self.sizes[0]

    def label(self):
        return "r={:g}".format(self.sizes[0])


class Rect(Shape):
    sides_needed = 2

    def area(self):
        return self.sizes[0] * self.sizes[1]

    def perimeter(self):
        return 2 * (self.sizes[0] + self.sizes[1])


class Square(Shape):
    sides_needed = 1

    def area(self):
        return self.sizes[0] ** 2

    def perimeter(self):
        return 4 * self.sizes[0]


class Triangle(Shape):
    sides_needed = 3

    def check(self):
        longest = max(self.sizes)
        if longest >= sum(self.sizes) - longest:
            raise ValueError("Those sides do not make a triangle.")

    def area(self):
        half = self.perimeter() / 2
        a, b, c = self.sizes
        return math.sqrt(half * (half - a) * (half - b) * (half - c))

    def perimeter(self):
        return math.fsum(self.sizes)


SHAPES = {"circle": Circle, "rect": Rect, "square": Square, "triangle": Triangle}
USAGE = "Shapes: circle R, rect W H, square S, triangle A B C"


def measure(kind, sizes):
    """Pipeline step: area and perimeter of one shape."""
    shape = SHAPES[kind](*sizes)
    return {"shape": kind, "area": round(shape.area(), 6), "perimeter": round(shape.perimeter(), 6)}


@pyward.command("area", security="everyone", help=USAGE)
def area(event, args):
    words = args.lower().split()
    if not words or words[0] not in SHAPES:
        return USAGE
    try:
        shape = SHAPES[words[0]](*[float(w) for w in words[1:]])
    except TypeError:
        return USAGE
    except ValueError as error:
        return str(error) if "triangle" in str(error) else "Sizes must be positive numbers."
    return "{} {}: area {:.5g}, perimeter {:.5g}".format(words[0], shape.label(), shape.area(), shape.perimeter())
