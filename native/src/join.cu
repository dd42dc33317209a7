// native/src/join.cu — channel-range copies with spatial subsampling (ABI v3): concatenation,
// and the option-A shortcut of the CIFAR ResNets (He et al. 2016), which takes every stride-th pixel and
// pads the extra channels with zeros. The CUDA twins of CpuBackend.CopyChannels / CopyChannelsBackward:
//
//   forward:   dst[b, dst_c0 + i, h, w] (+)= src[b, src_c0 + i, h·s, w·s]
//              for b < n, i < channels, h < dst_h = ⌈src_h/s⌉, w < dst_w = ⌈src_w/s⌉; nothing else is touched
//   backward:  the adjoint, dsrc[b, dsrc_c0 + i, h·s, w·s] (+)= ddst[b, ddst_c0 + i, h, w]. Not accumulating,
//              the channels [dsrc_c0, dsrc_c0 + channels) of dsrc are overwritten whole: 0 + ddst on the
//              grid (so −0 becomes +0, as the CPU's clear-then-add) and 0 at the pixels the stride skipped.
//              Accumulating, only the grid pixels change.
//
// Both tensors have the layout `nhwc` (NCHW offset ((b·C + c)·H + h)·W + w, NHWC ((b·H + h)·W + w)·C + c);
// rank-2 tensors (N, C) are (N, C, 1, 1). Each thread owns one element of the written tensor, so there
// are no atomics and no races; the grid walks that tensor in memory order. Any storage dtype.
#include "common.cuh"

struct dt_dims { int64_t c, h, w, c0; };

__host__ __device__ __forceinline__ int64_t dt_offset(const dt_dims& d, int32_t nhwc, int64_t b, int64_t ch, int64_t h, int64_t w) {
    return nhwc ? ((b * d.h + h) * d.w + w) * d.c + ch : ((b * d.c + ch) * d.h + h) * d.w + w;
}

// Element j of the (n, channels, h, w) sub-block in memory order → (b, i, y, x).
__host__ __device__ __forceinline__ void dt_unflatten(int64_t j, int32_t nhwc, int64_t channels, int64_t h, int64_t w,
                                             int64_t& b, int64_t& i, int64_t& y, int64_t& x) {
    if (nhwc) {
        i = j % channels; j /= channels;
        x = j % w; j /= w;
        y = j % h; b = j / h;
    } else {
        x = j % w; j /= w;
        y = j % h; j /= h;
        i = j % channels; b = j / channels;
    }
}

template <typename T>
__global__ void copy_channels_kernel(const T* src, dt_dims s, T* dst, dt_dims d, int64_t count, int64_t channels, int32_t stride,
                                     int32_t nhwc, int32_t accumulate) {
    DT_FOR(j, count) {
        int64_t b, i, y, x;
        dt_unflatten(j, nhwc, channels, d.h, d.w, b, i, y, x);
        const float v = dt_to_f32(src[dt_offset(s, nhwc, b, s.c0 + i, y * stride, x * stride)]);
        const int64_t o = dt_offset(d, nhwc, b, d.c0 + i, y, x);
        dst[o] = dt_from_f32<T>(accumulate ? dt_fadd(dt_to_f32(dst[o]), v) : v);
    }
}

// One thread per dsrc element of the channel range (Sub = the subsampled ddst, Full = dsrc).
template <typename T>
__global__ void copy_channels_backward_kernel(const T* ddst, dt_dims sub, T* dsrc, dt_dims full, int64_t count, int64_t channels,
                                              int32_t stride, int32_t nhwc, int32_t accumulate) {
    DT_FOR(j, count) {
        int64_t b, i, y, x;
        dt_unflatten(j, nhwc, channels, full.h, full.w, b, i, y, x);
        const bool on_grid = y % stride == 0 && x % stride == 0;
        if (accumulate && !on_grid) continue;
        const int64_t o = dt_offset(full, nhwc, b, full.c0 + i, y, x);
        float v = 0.0f;
        if (on_grid) v = dt_to_f32(ddst[dt_offset(sub, nhwc, b, sub.c0 + i, y / stride, x / stride)]);
        dsrc[o] = dt_from_f32<T>(dt_fadd(accumulate ? dt_to_f32(dsrc[o]) : 0.0f, v));
    }
}

// The checks of CpuBackend.CheckChannelCopy: full is the strided tensor, sub its ⌈·/stride⌉ subsample.
static bool dt_channel_copy_ok(const dt_dims& full, const dt_dims& sub, int64_t n, int64_t channels, int32_t stride, int32_t nhwc) {
    if (n < 0 || channels < 0 || stride < 1 || (nhwc != 0 && nhwc != 1)) return false;
    if (full.c < 0 || full.h < 0 || full.w < 0 || sub.c < 0 || sub.h < 0 || sub.w < 0) return false;
    if (full.c0 < 0 || full.c0 + channels > full.c || sub.c0 < 0 || sub.c0 + channels > sub.c) return false;
    return sub.h == (full.h + stride - 1) / stride && sub.w == (full.w + stride - 1) / stride;
}

DT_EXPORT int32_t dt_copy_channels(const void* src, int64_t src_c, int64_t src_h, int64_t src_w, int64_t src_c0,
                                   void* dst, int64_t dst_c, int64_t dst_h, int64_t dst_w, int64_t dst_c0,
                                   int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc, int32_t accumulate,
                                   cudaStream_t stream) {
    const dt_dims s{src_c, src_h, src_w, src_c0}, d{dst_c, dst_h, dst_w, dst_c0};
    if (dt_dtype_size(dtype) == 0 || !dt_channel_copy_ok(s, d, n, channels, stride, nhwc)) return (int32_t)cudaErrorInvalidValue;
    const int64_t count = n * channels * dst_h * dst_w;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        copy_channels_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)src, s, (T*)dst, d, count, channels, stride,
                                                                           nhwc, accumulate);
        return (int32_t)cudaGetLastError();
    });
}

DT_EXPORT int32_t dt_copy_channels_backward(const void* ddst, int64_t ddst_c, int64_t ddst_h, int64_t ddst_w, int64_t ddst_c0,
                                            void* dsrc, int64_t dsrc_c, int64_t dsrc_h, int64_t dsrc_w, int64_t dsrc_c0,
                                            int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc,
                                            int32_t accumulate, cudaStream_t stream) {
    const dt_dims sub{ddst_c, ddst_h, ddst_w, ddst_c0}, full{dsrc_c, dsrc_h, dsrc_w, dsrc_c0};
    if (dt_dtype_size(dtype) == 0 || !dt_channel_copy_ok(full, sub, n, channels, stride, nhwc)) return (int32_t)cudaErrorInvalidValue;
    const int64_t count = n * channels * dsrc_h * dsrc_w;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        copy_channels_backward_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)ddst, sub, (T*)dsrc, full, count,
                                                                                    channels, stride, nhwc, accumulate);
        return (int32_t)cudaGetLastError();
    });
}
