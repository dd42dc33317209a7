namespace DeepTrain.Interop.Tests;

/// <summary>
/// Every export's argument checks against its managed and CPU counterparts (issue 9): one row per export and boundary.
/// The checks run on the host before any launch, so the built library answers them without a GPU:
/// <list type="bullet">
/// <item><see cref="Expect.Reject"/>: <c>cudaErrorInvalidValue</c>, as the CPU backend (or the managed check in front of
/// the kernel) rejects the same value;</item>
/// <item><see cref="Expect.NoLaunch"/>: <c>cudaSuccess</c> without a launch (nothing to do), anywhere;</item>
/// <item><see cref="Expect.Accept"/>: the value the CPU accepts passes the checks and reaches the launch. Without a
/// device the launch then fails with another status (cudaErrorNoDevice 100 where libcuda is installed,
/// cudaErrorInsufficientDriver 35 where it is not), so "accepted" is "not cudaErrorInvalidValue". These rows pass bogus
/// pointers, so where a device is present they would launch and fault: there they skip (the GPU tests,
/// <see cref="KernelGpuTests"/> and DeepTrain.Tests/Cuda, run the same values on real memory).</item>
/// </list>
/// <see cref="EveryHeaderExport_HasARow"/> fails when an export is added without a row here.
/// </summary>
public sealed unsafe class KernelArgumentTests
{
    public enum Expect { Reject, NoLaunch, Accept }

    /// <summary>One case: the export, what is passed, the rule of the managed/CPU side it mirrors, and the call.</summary>
    private sealed record Row(string Export, string Case, Expect Expect, string Rule, Func<int> Call);

    private const int InvalidValue = (int)cudaError_t.cudaErrorInvalidValue;
    private const float Inf = float.PositiveInfinity, NaN = float.NaN;

    // Never dereferenced: a rejected call returns before launching, and an accepted one only launches without a device.
    private static readonly void* P = (void*)0x1000;
    private static float* F => (float*)P;
    private static int* I => (int*)P;
    private static long* L => (long*)P;

    private static List<Row> AllRows()
    {
        var rows = new List<Row>();
        void R(string export, string @case, Expect expect, string rule, Func<int> call) => rows.Add(new(export, @case, expect, rule, call));
        const string scaler = "OperandChecks.ScalerFactors = LossScalerOptions.Validate: growth finite ≥ 1, backoff in (0, 1], interval ≥ 1";
        const string count = "counts are a tensor's element count: ≥ 0";
        const string dtype = "DType {Float32, Float16, BFloat16} = DT_F32/F16/BF16; Int32 never reaches a kernel (CudaBackend.KernelDType)";
        // ---- version, device ----
        R("dt_abi_version", "returns DT_KERNELS_ABI_VERSION", Expect.NoLaunch, "BackendFactory refuses another version",
            () => Kernels.dt_abi_version() == Kernels.AbiVersion ? 0 : -1);
        R("dt_cuda_runtime_version", "answers without a device (0 or the version)", Expect.NoLaunch, "deeptrain info prints it",
            () => Kernels.dt_cuda_runtime_version() >= 0 ? 0 : -1);
        R("dt_set_device", "device 0", Expect.Accept, "CudaBackend(device) calls it beside cudaSetDevice", () => Kernels.dt_set_device(0));

        // ---- loss scaling ----
        R("dt_unscale_f32", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_unscale_f32(F, 0, F, I, 0));
        R("dt_unscale_f32", "n = 1", Expect.Accept, count, () => Kernels.dt_unscale_f32(F, 1, F, I, 0));
        R("dt_unscale_multi_f32", "count = 0", Expect.NoLaunch, "no managed caller; a list of tensors", () => Kernels.dt_unscale_multi_f32((float**)P, L, 0, F, I, 0));
        R("dt_unscale_multi_f32", "count = 1", Expect.Accept, "no managed caller; a list of tensors", () => Kernels.dt_unscale_multi_f32((float**)P, L, 1, F, I, 0));
        // grid.y ≤ 65535 is the hardware's limit, not the caller's: the launcher batches longer lists.
        R("dt_unscale_multi_f32", "count = 65536 (over grid.y)", Expect.Accept, "any list length", () => Kernels.dt_unscale_multi_f32((float**)P, L, 65536, F, I, 0));
        R("dt_scale_by_f32", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_scale_by_f32(F, 0, F, 0));
        R("dt_scale_by_f32", "n = 1", Expect.Accept, count, () => Kernels.dt_scale_by_f32(F, 1, F, 0));
        void UpdateScale(string @case, Expect e, float growth, float backoff, int interval) =>
            R("dt_update_scale", @case, e, scaler, () => Kernels.dt_update_scale(F, I, I, L, growth, backoff, interval, 0));
        UpdateScale("static: growth 1, backoff 1, interval int.MaxValue", Expect.Accept, 1f, 1f, int.MaxValue);
        UpdateScale("GradScaler's defaults 2, 0.5, 2000", Expect.Accept, 2f, 0.5f, 2000);
        UpdateScale("growth 1 (never grows), backoff 0.5", Expect.Accept, 1f, 0.5f, 2000);
        UpdateScale("growth 2, backoff 1 (never backs off)", Expect.Accept, 2f, 1f, 1);
        UpdateScale("growth float.MaxValue, backoff float.Epsilon", Expect.Accept, float.MaxValue, float.Epsilon, 1);
        UpdateScale("growth 0.5", Expect.Reject, 0.5f, 0.5f, 2000);
        UpdateScale("growth +∞", Expect.Reject, Inf, 0.5f, 2000);
        UpdateScale("growth NaN", Expect.Reject, NaN, 0.5f, 2000);
        UpdateScale("backoff 0", Expect.Reject, 2f, 0f, 2000);
        UpdateScale("backoff 1.5", Expect.Reject, 2f, 1.5f, 2000);
        UpdateScale("backoff NaN", Expect.Reject, 2f, NaN, 2000);
        UpdateScale("backoff −∞", Expect.Reject, 2f, -Inf, 2000);
        UpdateScale("interval 0", Expect.Reject, 2f, 0.5f, 0);
        UpdateScale("interval int.MinValue", Expect.Reject, 2f, 0.5f, int.MinValue);

        // ---- optimizers ----
        const string step = "step ≥ 1 unless a scaler state supplies t = step_count + 1 (CpuBackend/CudaBackend.SgdStep, AdamStep)";
        const string sgd = "OperandChecks.Sgd: the Caffe form has no dampening";
        const string half = "OperandChecks.WorkingCopy: none, fp16 or bf16 (DT_HALF_NONE/F16/BF16)";
        R("dt_sgd_f32", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 0, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "step 1, host count", Expect.Accept, step, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "step 0, host count", Expect.Reject, step, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 0, null, 0));
        R("dt_sgd_f32", "step 0 ignored with a device count", Expect.Accept, step, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, L, 0, I, 0));
        R("dt_sgd_f32", "momentum 0, no buffer", Expect.Accept, "μ = 0 uses no buffer", () => Kernels.dt_sgd_f32(F, F, null, null, 0, 10, 0.1f, 0f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "momentum 0.9, no buffer", Expect.Reject, "μ ≠ 0 needs the buffer", () => Kernels.dt_sgd_f32(F, F, null, null, 0, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "Caffe form, dampening 0", Expect.Accept, sgd, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, 0.1f, 0.9f, 0f, 0f, 1, 1, null, 1, null, 0));
        R("dt_sgd_f32", "Caffe form, dampening 0.1", Expect.Reject, sgd, () => Kernels.dt_sgd_f32(F, F, F, null, 0, 10, 0.1f, 0.9f, 0.1f, 0f, 0, 1, null, 1, null, 0));
        R("dt_sgd_f32", "Caffe form, dampening 0.1, momentum 0", Expect.Reject, sgd, () => Kernels.dt_sgd_f32(F, F, null, null, 0, 10, 0.1f, 0f, 0.1f, 0f, 0, 1, null, 1, null, 0));
        R("dt_sgd_f32", "bf16 copy", Expect.Accept, half, () => Kernels.dt_sgd_f32(F, F, F, P, 2, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "fp16 copy, no pointer", Expect.Reject, half, () => Kernels.dt_sgd_f32(F, F, F, null, 1, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_sgd_f32", "half kind 3", Expect.Reject, half, () => Kernels.dt_sgd_f32(F, F, F, P, 3, 10, 0.1f, 0.9f, 0f, 0f, 0, 0, null, 1, null, 0));
        R("dt_adam_f32", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_adam_f32(F, F, F, F, null, 0, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 1, null, 0));
        R("dt_adam_f32", "step 1, host count", Expect.Accept, step, () => Kernels.dt_adam_f32(F, F, F, F, null, 0, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 1, null, 0));
        R("dt_adam_f32", "step 0, host count", Expect.Reject, step, () => Kernels.dt_adam_f32(F, F, F, F, null, 0, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 0, null, 0));
        R("dt_adam_f32", "step 0 ignored with a device count", Expect.Accept, step, () => Kernels.dt_adam_f32(F, F, F, F, null, 0, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, L, 0, I, 0));
        R("dt_adam_f32", "fp16 copy", Expect.Accept, half, () => Kernels.dt_adam_f32(F, F, F, F, P, 1, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 1, null, 0));
        R("dt_adam_f32", "bf16 copy, no pointer", Expect.Reject, half, () => Kernels.dt_adam_f32(F, F, F, F, null, 2, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 1, null, 0));
        R("dt_adam_f32", "half kind −1", Expect.Reject, half, () => Kernels.dt_adam_f32(F, F, F, F, P, -1, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 1, null, 0));
        const string adagrad = "AdagradStep: step ≥ 1";
        R("dt_adagrad_f32", "step 1", Expect.Accept, adagrad, () => Kernels.dt_adagrad_f32(F, F, F, 10, 0.1f, 0f, 0f, 1e-10f, 1, 0));
        R("dt_adagrad_f32", "step long.MaxValue", Expect.Accept, adagrad, () => Kernels.dt_adagrad_f32(F, F, F, 10, 0.1f, 1e-3f, 0f, 1e-10f, long.MaxValue, 0));
        R("dt_adagrad_f32", "step 0", Expect.Reject, adagrad, () => Kernels.dt_adagrad_f32(F, F, F, 10, 0.1f, 0f, 0f, 1e-10f, 0, 0));
        R("dt_adagrad_f32", "count 0", Expect.NoLaunch, count, () => Kernels.dt_adagrad_f32(F, F, F, 0, 0.1f, 0f, 0f, 1e-10f, 1, 0));
        R("dt_adagrad_f32", "count −1", Expect.Reject, count, () => Kernels.dt_adagrad_f32(F, F, F, -1, 0.1f, 0f, 0f, 1e-10f, 1, 0));
        const string rms = "OperandChecks.RmsPropBuffers: a momentum buffer iff μ > 0, a gradient average iff centered";
        R("dt_rmsprop_f32", "μ 0, not centered, no buffers", Expect.Accept, rms, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, 10, 0.01f, 0.99f, 1e-8f, 0f, 0f, 0, 0));
        R("dt_rmsprop_f32", "μ NaN (not > 0), no buffer", Expect.Accept, rms, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, 10, 0.01f, 0.99f, 1e-8f, 0f, NaN, 0, 0));
        R("dt_rmsprop_f32", "μ 0.9, centered, both buffers", Expect.Accept, rms, () => Kernels.dt_rmsprop_f32(F, F, F, F, F, 10, 0.01f, 0.99f, 1e-8f, 0f, 0.9f, 1, 0));
        R("dt_rmsprop_f32", "μ 0.9, no buffer", Expect.Reject, rms, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, 10, 0.01f, 0.99f, 1e-8f, 0f, 0.9f, 0, 0));
        R("dt_rmsprop_f32", "centered, no average", Expect.Reject, rms, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, 10, 0.01f, 0.99f, 1e-8f, 0f, 0f, 1, 0));
        R("dt_rmsprop_f32", "count 0", Expect.NoLaunch, count, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, 0, 0.01f, 0.99f, 1e-8f, 0f, 0f, 0, 0));
        R("dt_rmsprop_f32", "count −1", Expect.Reject, count, () => Kernels.dt_rmsprop_f32(F, F, F, null, null, -1, 0.01f, 0.99f, 1e-8f, 0f, 0f, 0, 0));
        const string penalty = "OperandChecks.PenaltyCoefficients (λ finite ≥ 0) runs before; CudaBackend skips λ1 = λ2 = 0";
        R("dt_penalty_grad_f32", "count 1", Expect.Accept, penalty, () => Kernels.dt_penalty_grad_f32(F, F, 1, 1e-4f, 0f, 0));
        R("dt_penalty_grad_f32", "count 0", Expect.NoLaunch, count, () => Kernels.dt_penalty_grad_f32(F, F, 0, 1f, 1f, 0));
        R("dt_penalty_grad_f32", "count −1", Expect.Reject, count, () => Kernels.dt_penalty_grad_f32(F, F, -1, 1f, 1f, 0));

        // ---- clipping ----
        R("dt_global_norm_sq_f32", "count 0 (writes 0)", Expect.Accept, "GlobalNormSquared writes Σ over nothing = 0", () => Kernels.dt_global_norm_sq_f32(F, 0, F, 0));
        R("dt_global_norm_sq_f32", "no output", Expect.Reject, "normSquared is a one-element tensor", () => Kernels.dt_global_norm_sq_f32(F, 10, null, 0));
        R("dt_global_norm_sq_f32", "count −1", Expect.Reject, count, () => Kernels.dt_global_norm_sq_f32(F, -1, F, 0));
        const string clip = "OperandChecks.MaxNorm (finite > 0) runs before";
        R("dt_scale_by_norm_f32", "count 1", Expect.Accept, clip, () => Kernels.dt_scale_by_norm_f32(F, 1, F, 1f, 1e-6f, 0));
        R("dt_scale_by_norm_f32", "count 0", Expect.NoLaunch, count, () => Kernels.dt_scale_by_norm_f32(F, 0, F, 1f, 1e-6f, 0));
        R("dt_scale_by_norm_f32", "no norm", Expect.Reject, "normSquared is a one-element tensor", () => Kernels.dt_scale_by_norm_f32(F, 10, null, 1f, 1e-6f, 0));

        // ---- casts (no managed caller: Copy goes through dt_convert) ----
        R("dt_cast_f32_to_f16", "n = 1", Expect.Accept, count, () => Kernels.dt_cast_f32_to_f16(F, P, 1, 0));
        R("dt_cast_f32_to_f16", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_cast_f32_to_f16(F, P, 0, 0));
        R("dt_cast_f16_to_f32", "n = 1", Expect.Accept, count, () => Kernels.dt_cast_f16_to_f32(P, F, 1, 0));
        R("dt_cast_f32_to_bf16", "n = 1", Expect.Accept, count, () => Kernels.dt_cast_f32_to_bf16(F, P, 1, 0));
        R("dt_cast_bf16_to_f32", "n = 0", Expect.NoLaunch, count, () => Kernels.dt_cast_bf16_to_f32(P, F, 0, 0));

        // ---- softmax cross-entropy ----
        const string xent = "CpuBackend.SoftmaxCrossEntropy: any K ≥ 1 (int); CudaBackend refuses K > 2^24 first, naming the limit";
        R("dt_softmax_xent_f32", "N 1, K 2^24", Expect.Accept, xent, () => Kernels.dt_softmax_xent_f32(F, I, 1, 1 << 24, F, F, F, null, 1f, I, 0));
        R("dt_softmax_xent_f32", "N 1, K 2^24 + 1 (float first-maximum index)", Expect.Reject, xent, () => Kernels.dt_softmax_xent_f32(F, I, 1, (1 << 24) + 1, F, F, F, null, 1f, I, 0));
        R("dt_softmax_xent_f32", "N int.MaxValue (grid.x)", Expect.Accept, "N is an int", () => Kernels.dt_softmax_xent_f32(F, I, int.MaxValue, 10, F, null, null, null, 1f, null, 0));
        R("dt_softmax_xent_f32", "N 2^31", Expect.Reject, "N is an int: unreachable", () => Kernels.dt_softmax_xent_f32(F, I, 1L << 31, 10, F, null, null, null, 1f, null, 0));
        R("dt_softmax_xent_f32", "N 0 (writes NaN)", Expect.Accept, "the mean of nothing is NaN (CudaBackend fills it itself)", () => Kernels.dt_softmax_xent_f32(F, I, 0, 10, F, null, F, null, 1f, null, 0));
        R("dt_softmax_xent_f32", "K 0", Expect.Reject, "N > 0 with K = 0: every label is outside [0, 0), the CPU throws", () => Kernels.dt_softmax_xent_f32(F, I, 4, 0, F, null, null, null, 1f, null, 0));
        R("dt_softmax_xent_f32", "no loss", Expect.Reject, "loss is a one-element tensor", () => Kernels.dt_softmax_xent_f32(F, I, 4, 10, null, null, null, null, 1f, null, 0));

        // ---- element-wise ----
        R("dt_convert", "NCHW → NHWC, fp32 → bf16", Expect.Accept, "Copy converts fp32/fp16/bf16 and layouts", () => Kernels.dt_convert(P, 0, 0, (void*)0x2000, 2, 1, 2, 3, 4, 4, 0));
        R("dt_convert", "x == y, nothing changes", Expect.NoLaunch, "Copy of a tensor onto itself is a no-op", () => Kernels.dt_convert(P, 1, 0, P, 1, 0, 2, 3, 4, 4, 0));
        R("dt_convert", "x == y, one channel: both layouts the same bytes", Expect.NoLaunch, "Copy: rank-2 / one-channel tensors", () => Kernels.dt_convert(P, 0, 0, P, 0, 1, 2, 1, 4, 4, 0));
        R("dt_convert", "x == y, transpose", Expect.Reject, "Copy: a layout change cannot run in place (both backends throw)", () => Kernels.dt_convert(P, 0, 0, P, 0, 1, 2, 3, 4, 4, 0));
        R("dt_convert", "x == y, narrowing", Expect.Reject, "Copy: a dtype change cannot run in place (both backends throw)", () => Kernels.dt_convert(P, 0, 0, P, 1, 0, 10, 1, 1, 1, 0));
        R("dt_convert", "dtype 3 (Int32)", Expect.Reject, dtype, () => Kernels.dt_convert(P, 3, 0, (void*)0x2000, 0, 1, 2, 3, 4, 4, 0));
        R("dt_convert", "layout flag 2", Expect.Reject, "nhwc is 0 or 1", () => Kernels.dt_convert(P, 0, 2, (void*)0x2000, 0, 1, 2, 3, 4, 4, 0));
        R("dt_convert", "n −1", Expect.Reject, count, () => Kernels.dt_convert(P, 0, 0, (void*)0x2000, 0, 1, -1, 3, 4, 4, 0));
        R("dt_fill", "bf16, count 1", Expect.Accept, dtype, () => Kernels.dt_fill(P, 2, 1, 1f, 0));
        R("dt_fill", "count 0", Expect.NoLaunch, count, () => Kernels.dt_fill(P, 2, 0, 1f, 0));
        R("dt_fill", "count −1", Expect.Reject, count, () => Kernels.dt_fill(P, 0, -1, 1f, 0));
        R("dt_fill", "dtype 3", Expect.Reject, dtype, () => Kernels.dt_fill(P, 3, 10, 1f, 0));
        R("dt_axpby", "x == y, fp16", Expect.Accept, "Axpby: y may be x", () => Kernels.dt_axpby(P, P, 1, 10, 2f, 1f, 0));
        R("dt_axpby", "count 0", Expect.NoLaunch, count, () => Kernels.dt_axpby(P, P, 1, 0, 2f, 1f, 0));
        R("dt_axpby", "dtype −1", Expect.Reject, dtype, () => Kernels.dt_axpby(P, P, -1, 10, 2f, 1f, 0));
        R("dt_add", "y == a == b", Expect.Accept, "Add: y may alias a or b", () => Kernels.dt_add(P, P, P, 0, 10, 0));
        R("dt_add", "count 0", Expect.NoLaunch, count, () => Kernels.dt_add(P, P, P, 0, 0, 0));
        R("dt_add", "count −1", Expect.Reject, count, () => Kernels.dt_add(P, P, P, 0, -1, 0));

        // ---- activations, dropout, PReLU ----
        const string act = "ActivationKind {Relu, LeakyRelu, Sigmoid, Tanh} = DT_ACT_* 0..3";
        R("dt_activation", "Tanh in place", Expect.Accept, act, () => Kernels.dt_activation(3, 0f, P, P, 0, 10, 0));
        R("dt_activation", "count 0", Expect.NoLaunch, count, () => Kernels.dt_activation(0, 0f, P, P, 0, 0, 0));
        R("dt_activation", "kind 4", Expect.Reject, act, () => Kernels.dt_activation(4, 0f, P, P, 0, 10, 0));
        R("dt_activation", "kind −1", Expect.Reject, act, () => Kernels.dt_activation(-1, 0f, P, P, 0, 10, 0));
        R("dt_activation_backward", "LeakyReLU, accumulating, dx == dy", Expect.Accept, act, () => Kernels.dt_activation_backward(1, 0.1f, P, P, P, 1, 10, 1, 0));
        R("dt_activation_backward", "kind 4", Expect.Reject, act, () => Kernels.dt_activation_backward(4, 0f, P, P, P, 0, 10, 0, 0));
        R("dt_activation_backward", "dtype 3", Expect.Reject, dtype, () => Kernels.dt_activation_backward(0, 0f, P, P, P, 3, 10, 0, 0));
        const string drop = "OperandChecks.DropoutP: p in [0, 1], NaN refused";
        R("dt_dropout", "p 0", Expect.Accept, drop, () => Kernels.dt_dropout(P, P, 0, 10, 0f, 1, 0, 0));
        R("dt_dropout", "p 1 (drops everything)", Expect.Accept, drop, () => Kernels.dt_dropout(P, P, 0, 10, 1f, 1, 0, 0));
        R("dt_dropout", "p −0", Expect.Accept, drop, () => Kernels.dt_dropout(P, P, 0, 10, -0f, 1, 0, 0));
        R("dt_dropout", "p 1 + 2^−23", Expect.Reject, drop, () => Kernels.dt_dropout(P, P, 0, 10, BitConverter.Int32BitsToSingle(0x3F800001), 1, 0, 0));
        R("dt_dropout", "p −ε", Expect.Reject, drop, () => Kernels.dt_dropout(P, P, 0, 10, -float.Epsilon, 1, 0, 0));
        R("dt_dropout", "p NaN", Expect.Reject, drop, () => Kernels.dt_dropout(P, P, 0, 10, NaN, 1, 0, 0));
        R("dt_dropout", "count 0", Expect.NoLaunch, count, () => Kernels.dt_dropout(P, P, 0, 0, 0.5f, 1, 0, 0));
        const string prelu = "ChannelGeometry: N, C, H·W ≥ 0, each an int";
        R("dt_prelu_forward", "1×1×1", Expect.Accept, prelu, () => Kernels.dt_prelu_forward(F, F, F, 1, 1, 1, 0, 0, 0));
        R("dt_prelu_forward", "no elements", Expect.NoLaunch, prelu, () => Kernels.dt_prelu_forward(F, F, F, 0, 3, 4, 1, 0, 0));
        R("dt_prelu_forward", "c −1", Expect.Reject, prelu, () => Kernels.dt_prelu_forward(F, F, F, 1, -1, 1, 0, 0, 0));
        R("dt_prelu_backward", "no elements, shared: writes dα = 0", Expect.Accept, "the CPU writes dα even with no elements", () => Kernels.dt_prelu_backward(F, F, F, null, F, 0, 3, 4, 0, 1, 0, 0, 0));
        R("dt_prelu_backward", "c int.MaxValue (grid.x)", Expect.Accept, prelu, () => Kernels.dt_prelu_backward(F, F, F, F, F, 1, int.MaxValue, 1, 1, 0, 0, 0, 0));
        R("dt_prelu_backward", "c 2^31, per channel", Expect.Reject, "C is an int: unreachable", () => Kernels.dt_prelu_backward(F, F, F, F, F, 1, 1L << 31, 1, 1, 0, 0, 0, 0));
        R("dt_prelu_backward", "no channels, per channel", Expect.NoLaunch, prelu, () => Kernels.dt_prelu_backward(F, F, F, F, null, 2, 0, 4, 0, 0, 0, 0, 0));
        R("dt_prelu_backward", "hw −1", Expect.Reject, prelu, () => Kernels.dt_prelu_backward(F, F, F, F, F, 1, 1, -1, 0, 0, 0, 0, 0));

        // ---- channel copies: OperandChecks.ChannelCopy ----
        const string cc = "OperandChecks.ChannelCopy: stride ≥ 1, channels ≥ 0, ranges inside both, dst = ⌈src/stride⌉ (in 64 bits)";
        // src (n 2, 4×5×5) → dst (8×3×3), stride 2, channels [0, 4) → [4, 8).
        R("dt_copy_channels", "option-A shortcut, stride 2", Expect.Accept, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 0, P, 8, 3, 3, 4, 0, 2, 4, 2, 0, 0, 0));
        R("dt_copy_channels", "stride int.MaxValue: dst 1×1", Expect.Accept, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 0, P, 4, 1, 1, 0, 0, 2, 4, int.MaxValue, 1, 0, 0));
        R("dt_copy_channels", "stride int.MaxValue: dst 0×0", Expect.Reject, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 0, P, 4, 0, 0, 0, 0, 2, 4, int.MaxValue, 1, 0, 0));
        R("dt_copy_channels", "channels 0", Expect.NoLaunch, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 0, P, 8, 3, 3, 0, 0, 2, 0, 2, 0, 0, 0));
        R("dt_copy_channels", "dst 3×3 for ⌈5/2⌉×⌈4/2⌉", Expect.Reject, cc, () => Kernels.dt_copy_channels(P, 4, 5, 4, 0, P, 8, 3, 3, 0, 0, 2, 4, 2, 0, 0, 0));
        R("dt_copy_channels", "src c0 1 + int.MaxValue channels", Expect.Reject, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 1, P, 8, 3, 3, 1, 0, 2, int.MaxValue, 2, 0, 0, 0));
        R("dt_copy_channels", "stride 0", Expect.Reject, cc, () => Kernels.dt_copy_channels(P, 4, 5, 5, 0, P, 8, 5, 5, 0, 0, 2, 4, 0, 0, 0, 0));
        R("dt_copy_channels_backward", "the adjoint, stride 2", Expect.Accept, cc, () => Kernels.dt_copy_channels_backward(P, 8, 3, 3, 4, P, 4, 5, 5, 0, 1, 2, 4, 2, 1, 1, 0));
        R("dt_copy_channels_backward", "stride 0", Expect.Reject, cc, () => Kernels.dt_copy_channels_backward(P, 8, 3, 3, 0, P, 4, 5, 5, 0, 0, 2, 4, 0, 0, 0, 0));
        R("dt_copy_channels_backward", "dsrc range outside", Expect.Reject, cc, () => Kernels.dt_copy_channels_backward(P, 8, 3, 3, 0, P, 4, 5, 5, 1, 0, 2, 4, 2, 0, 0, 0));

        // ---- losses ----
        const string loss = "MseLoss / BceWithLogitsLoss: loss is one element; CudaBackend fills NaN itself for count 0";
        R("dt_mse", "count 1, in place", Expect.Accept, loss, () => Kernels.dt_mse(F, F, 1, F, F, 1f, 0));
        R("dt_mse", "count 0 (writes NaN)", Expect.Accept, loss, () => Kernels.dt_mse(F, F, 0, F, null, 1f, 0));
        R("dt_mse", "no loss", Expect.Reject, loss, () => Kernels.dt_mse(F, F, 1, null, null, 1f, 0));
        R("dt_mse", "count −1", Expect.Reject, count, () => Kernels.dt_mse(F, F, -1, F, null, 1f, 0));
        R("dt_bce_logits", "count 1", Expect.Accept, loss, () => Kernels.dt_bce_logits(F, F, 1, F, null, 1f, 0));
        R("dt_bce_logits", "no loss", Expect.Reject, loss, () => Kernels.dt_bce_logits(F, F, 1, null, null, 1f, 0));
        R("dt_bce_logits", "count −1", Expect.Reject, count, () => Kernels.dt_bce_logits(F, F, -1, F, null, 1f, 0));
        return rows;
    }

    private static readonly Dictionary<string, Row> Rows = AllRows().ToDictionary(r => $"{r.Export}: {r.Case}");

    public static TheoryData<string> Cases(Expect e) => new(Rows.Values.Where(r => r.Expect == e).Select(r => $"{r.Export}: {r.Case}"));
    public static TheoryData<string> Rejected => Cases(Expect.Reject);
    public static TheoryData<string> NothingToDo => Cases(Expect.NoLaunch);
    public static TheoryData<string> Accepted => Cases(Expect.Accept);

    private static void RequireLibrary()
    {
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string why))
            Assert.Skip($"the kernel library is not built here (./build.sh native needs nvcc): {why}");
    }

    /// <summary>Both sides refuse: the kernel says cudaErrorInvalidValue before launching (safe on any machine).</summary>
    [Theory, MemberData(nameof(Rejected))]
    public void Kernel_Rejects_WhatTheCpuRejects(string name)
    {
        RequireLibrary();
        var r = Rows[name];
        Assert.True(r.Call() == InvalidValue, $"{name}: expected cudaErrorInvalidValue ({r.Rule})");
    }

    /// <summary>Nothing to do: cudaSuccess without a launch (safe on any machine).</summary>
    [Theory, MemberData(nameof(NothingToDo))]
    public void Kernel_LaunchesNothing_ForEmptyWork(string name)
    {
        RequireLibrary();
        var r = Rows[name];
        int status = r.Call();
        Assert.True(status == 0, $"{name}: returned {(cudaError_t)status}, expected cudaSuccess without a launch ({r.Rule})");
    }

    /// <summary>
    /// What the CPU accepts passes the kernel's checks. Without a device the launch that follows fails with another
    /// status; with one, the bogus pointers would be launched on, so the row skips (the GPU tests cover it on real memory).
    /// </summary>
    [Theory, MemberData(nameof(Accepted))]
    public void Kernel_Accepts_WhatTheCpuAccepts(string name)
    {
        RequireLibrary();
        // The library's own (static) runtime decides whether a launch happens; cudaSetDevice(0) succeeds only with a device.
        if (Kernels.dt_set_device(0) == 0 || CudaAvailability.Probe().IsAvailable)
            Assert.Skip("a GPU is present: these rows pass bogus pointers, which a launch would fault on (KernelGpuTests and DeepTrain.Tests/Cuda run them on real memory)");
        var r = Rows[name];
        int status = r.Call();
        Assert.True(status != InvalidValue, $"{name}: rejected with cudaErrorInvalidValue, but the CPU twin accepts it ({r.Rule})");
    }

    /// <summary>Without a device, an accepted call reaches the launch and fails with the driver's status, never InvalidValue.</summary>
    [Fact]
    public void WithoutADevice_AnAcceptedCall_FailsAtTheLaunchWithNoDeviceOrNoDriver()
    {
        RequireLibrary();
        int status = Kernels.dt_set_device(0);
        if (status == 0) Assert.Skip("a GPU is present");
        Assert.Contains((cudaError_t)status, new[] { cudaError_t.cudaErrorNoDevice, cudaError_t.cudaErrorInsufficientDriver });
        Assert.Equal(status, Kernels.dt_fill(P, 0, 1, 0f, 0));
    }

    /// <summary>A new export needs rows: its boundary cases against the CPU twin's rule.</summary>
    [Fact]
    public void EveryHeaderExport_HasARow()
    {
        string? header = KernelsTests.Header();
        if (header is null) Assert.Skip(KernelsTests.NoHeader);
        var exports = KernelsTests.Exports(File.ReadAllText(header)).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.True(exports.Count >= 30, $"only {exports.Count} exports parsed from {header}");
        var covered = Rows.Values.Select(r => r.Export).ToHashSet();
        Assert.Empty(exports.Except(covered));
        Assert.Empty(covered.Except(exports));
        // Every export with a check has a rejected row and an accepted one; the rest at least one accepted (or no-op) row.
        foreach (var e in exports)
            Assert.True(Rows.Values.Any(r => r.Export == e && r.Expect != Expect.Reject), $"{e}: no row shows what it accepts");
    }
}
