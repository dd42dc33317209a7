// native/src/elementwise.cu — the element-wise family: convert (dtype and layout), fill, axpby, add and the fp32 ↔ fp16/bf16 casts.
//
// dtype-generic element-wise operations (ABI v3), the CUDA twins of
// CpuBackend.Copy / Fill / Axpby / Add. Every element is loaded as fp32, computed in fp32 and stored in
// its storage type rounded to nearest even:
//
//   convert:  y[n, c, h, w] = x[n, c, h, w]     x and y each NCHW or NHWC, each fp32/fp16/bf16
//             NCHW offset ((n·C + c)·H + h)·W + w;  NHWC offset ((n·H + h)·W + w)·C + c
//   fill:     y[i] = value
//   axpby:    y[i] = α·x[i] + β·y[i]             two products and one sum, no FMA (as the CPU);
//             β = 0: y[i] = α·x[i], y never read, so stale NaN/Inf in y cannot leak (as cuDNN's β = 0)
//   add:      y[i] = a[i] + b[i]                 y may be a or b (each element is read before it is written)
#include "common.cuh"

// y index j (in y's layout) → x offset of the same logical element. Both layouts share (n, c, h·w).
__host__ __device__ __forceinline__ int64_t dt_convert_source(int64_t j, int32_t x_nhwc, int32_t y_nhwc, int64_t c, int64_t hw) {
    if (x_nhwc == y_nhwc) return j;
    const int64_t per = c * hw, b = j / per, r = j - b * per;
    if (y_nhwc) {   // r = s·C + ch  →  NCHW source b·per + ch·HW + s
        const int64_t s = r / c, ch = r - s * c;
        return b * per + ch * hw + s;
    }
    // y NCHW: r = ch·HW + s  →  NHWC source b·per + s·C + ch
    const int64_t ch = r / hw, s = r - ch * hw;
    return b * per + s * c + ch;
}

template <typename TX, typename TY>
__global__ void convert_kernel(const TX* x, int32_t x_nhwc, TY* y, int32_t y_nhwc, int64_t count, int64_t c, int64_t hw) {
    DT_FOR(j, count) y[j] = dt_from_f32<TY>(dt_to_f32(x[dt_convert_source(j, x_nhwc, y_nhwc, c, hw)]));
}

DT_EXPORT int32_t dt_convert(const void* x, int32_t x_dtype, int32_t x_nhwc, void* y, int32_t y_dtype, int32_t y_nhwc,
                             int64_t n, int64_t c, int64_t h, int64_t w, cudaStream_t stream) {
    const int64_t xs = dt_dtype_size(x_dtype), ys = dt_dtype_size(y_dtype);
    if (xs == 0 || ys == 0 || n < 0 || c < 0 || h < 0 || w < 0 || (x_nhwc != 0 && x_nhwc != 1) || (y_nhwc != 0 && y_nhwc != 1))
        return (int32_t)cudaErrorInvalidValue;
    const int64_t hw = h * w, count = n * c * hw;
    if (count == 0) return (int32_t)cudaSuccess;
    // With one channel or one pixel per sample both layouts are the same bytes.
    const bool same_layout = x_nhwc == y_nhwc || c == 1 || hw == 1;
    if (same_layout) x_nhwc = y_nhwc;
    if (x_dtype == y_dtype && same_layout) {
        if (x == y) return (int32_t)cudaSuccess;
        return (int32_t)cudaMemcpyAsync(y, x, (size_t)(count * xs), cudaMemcpyDeviceToDevice, stream);
    }
    if (x == y) return (int32_t)cudaErrorInvalidValue;   // a dtype or layout change cannot run in place
    return dt_dispatch(x_dtype, [&](auto tx) {
        using TX = decltype(tx);
        return dt_dispatch(y_dtype, [&](auto ty) {
            using TY = decltype(ty);
            convert_kernel<TX, TY><<<dt_blocks(count, 256), 256, 0, stream>>>((const TX*)x, x_nhwc, (TY*)y, y_nhwc, count, c, hw);
            return (int32_t)cudaGetLastError();
        });
    });
}

template <typename T>
__global__ void fill_kernel(T* y, int64_t count, float value) {
    const T v = dt_from_f32<T>(value);
    DT_FOR(i, count) y[i] = v;
}

DT_EXPORT int32_t dt_fill(void* y, int32_t dtype, int64_t count, float value, cudaStream_t stream) {
    if (dt_dtype_size(dtype) == 0 || count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        fill_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((T*)y, count, value);
        return (int32_t)cudaGetLastError();
    });
}

template <typename T>
__global__ void axpby_kernel(const T* x, T* y, int64_t count, float alpha, float beta) {
    if (beta == 0.0f) {
        DT_FOR(i, count) y[i] = dt_from_f32<T>(dt_fmul(alpha, dt_to_f32(x[i])));
    } else {
        DT_FOR(i, count) y[i] = dt_from_f32<T>(dt_fadd(dt_fmul(alpha, dt_to_f32(x[i])), dt_fmul(beta, dt_to_f32(y[i]))));
    }
}

DT_EXPORT int32_t dt_axpby(const void* x, void* y, int32_t dtype, int64_t count, float alpha, float beta, cudaStream_t stream) {
    if (dt_dtype_size(dtype) == 0 || count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        axpby_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)x, (T*)y, count, alpha, beta);
        return (int32_t)cudaGetLastError();
    });
}

template <typename T>
__global__ void add_kernel(const T* a, const T* b, T* y, int64_t count) {
    DT_FOR(i, count) y[i] = dt_from_f32<T>(dt_fadd(dt_to_f32(a[i]), dt_to_f32(b[i])));
}

DT_EXPORT int32_t dt_add(const void* a, const void* b, void* y, int32_t dtype, int64_t count, cudaStream_t stream) {
    if (dt_dtype_size(dtype) == 0 || count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        add_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)a, (const T*)b, (T*)y, count);
        return (int32_t)cudaGetLastError();
    });
}

// ---- cast ------------------------------------------------------------
// element-wise casts between fp32 and the 16-bit formats, round to nearest even
// (PyTorch: tensor.half(), tensor.bfloat16(), tensor.float()).

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
