"""Layers that let programs written for other tensor compilers run on tensorlang.

>>> from tensorlang.compat import tvm      # a TVM 0.19 classic-TE program, otherwise as written
"""
