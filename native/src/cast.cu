// native/src/cast.cu — element-wise casts between fp32 and the 16-bit formats, round to nearest even
// (PyTorch: tensor.half(), tensor.bfloat16(), tensor.float()).
#include "common.cuh"

template <typename From, typename To>
__device__ __forceinline__ To dt_cast_value(From x);
template <> __device__ __forceinline__ __half dt_cast_value<float, __half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ float dt_cast_value<__half, float>(__half x) { return __half2float(x); }
template <> __device__ __forceinline__ __nv_bfloat16 dt_cast_value<float, __nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ float dt_cast_value<__nv_bfloat16, float>(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename From, typename To>
__global__ void cast_kernel(const From* x, To* y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = dt_cast_value<From, To>(x[i]);
}

template <typename From, typename To>
static int32_t launch_cast(const void* x, void* y, int64_t n, cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    cast_kernel<From, To><<<dt_blocks(n, 256), 256, 0, stream>>>((const From*)x, (To*)y, n);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_cast_f32_to_f16(const float* x, void* y, int64_t n, cudaStream_t s) { return launch_cast<float, __half>(x, y, n, s); }
DT_EXPORT int32_t dt_cast_f16_to_f32(const void* x, float* y, int64_t n, cudaStream_t s) { return launch_cast<__half, float>(x, y, n, s); }
DT_EXPORT int32_t dt_cast_f32_to_bf16(const float* x, void* y, int64_t n, cudaStream_t s) { return launch_cast<float, __nv_bfloat16>(x, y, n, s); }
DT_EXPORT int32_t dt_cast_bf16_to_f32(const void* x, float* y, int64_t n, cudaStream_t s) { return launch_cast<__nv_bfloat16, float>(x, y, n, s); }
