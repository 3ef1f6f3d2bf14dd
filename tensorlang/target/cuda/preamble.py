"""Device helpers every generated translation unit starts with: floor division and
modulo, NaN-propagating min / max, sigmoid, and rounding to 16-bit floats (added only
where the kernels use ``__half`` / ``__nv_bfloat16``)."""

#: always included
PREAMBLE = r"""
static __device__ __forceinline__ int tl_floordiv(int a, int b) {
  int q = a / b, r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}
static __device__ __forceinline__ int tl_floormod(int a, int b) {
  int r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
static __device__ __forceinline__ long long tl_floordiv(long long a, long long b) {
  long long q = a / b, r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? q - 1 : q;
}
static __device__ __forceinline__ long long tl_floormod(long long a, long long b) {
  long long r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
// numpy's minimum / maximum: a NaN operand gives NaN (fminf and fmaxf return the other)
static __device__ __forceinline__ float tl_fminf(float a, float b) { return (a != a || b != b) ? a + b : fminf(a, b); }
static __device__ __forceinline__ float tl_fmaxf(float a, float b) { return (a != a || b != b) ? a + b : fmaxf(a, b); }
static __device__ __forceinline__ double tl_fmin(double a, double b) { return (a != a || b != b) ? a + b : fmin(a, b); }
static __device__ __forceinline__ double tl_fmax(double a, double b) { return (a != a || b != b) ? a + b : fmax(a, b); }
static __device__ __forceinline__ float tl_sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }
static __device__ __forceinline__ double tl_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
"""

#: included where a kernel uses float16
FP16_PREAMBLE = r"""
static __device__ __forceinline__ float tl_round_f16(float x) {
  return __half2float(__float2half_rn(x));
}
"""

#: included where a kernel uses bfloat16
BF16_PREAMBLE = r"""
static __device__ __forceinline__ float tl_round_bf16(float x) {
  return __bfloat162float(__float2bfloat16_rn(x));
}
"""
