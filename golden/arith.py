"""Golden twins of the RTL arithmetic blocks (pure NumPy), one import point.

- :mod:`golden.arith_fp`: FP32->HBFP converter (incl. the stochastic-rounding LFSR),
  HBFP->FP32 normalizer, FP32 multiply-add baseline.
- :mod:`golden.arith_dot`: HBFP dot-product unit with cross-block accumulation and the
  mixed-mantissa mode.

Both are bit-exact models of the Verilog that ``python -m gen`` emits; the pysim tests, cocotb
benches and reports all call them.
"""

from golden.arith_dot import *  # noqa: F401,F403
from golden.arith_fp import *  # noqa: F401,F403
