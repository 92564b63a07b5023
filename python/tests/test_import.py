import quantx


def test_extension_loads():
    assert quantx._core.__doc__.startswith("QuantX numeric core")
