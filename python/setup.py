"""Marks the quantx wheel as platform-specific: it carries compiled
libraries (see pyproject.toml for everything else)."""

from setuptools import setup
from setuptools.dist import Distribution


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(distclass=BinaryDistribution)
