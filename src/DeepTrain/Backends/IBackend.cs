using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Backends;

/// <summary>
/// The operation set every layer, loss and optimizer computes through. <c>CpuBackend</c> is the
/// managed reference; <c>CudaBackend</c> runs the same operations on cuDNN, cuBLAS and our kernels.
/// Conventions shared by every operation:
/// <list type="bullet">
/// <item>Rank-4 tensors are logical (N, C, H, W) in the tensor's own <see cref="Layout"/>; rank-2
/// tensors (N, C) are read as (N, C, 1, 1) where an operation is per-channel.</item>
/// <item>Operations that produce a gradient take <c>accumulate</c>: false overwrites the destination,
/// true adds to it (cuDNN's β = 0 or 1). A value consumed by several layers sums its gradients this way.</item>
/// <item>Element-wise operations allow the output to alias the input (in-place).</item>
/// <item>Shapes are validated; a mismatch throws <see cref="ArgumentException"/> naming the operation and shapes.</item>
/// </list>
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Where this backend's tensors live.</summary>
    Device Device { get; }

    /// <summary>A short description, e.g. "cpu (2 threads, AVX-512)".</summary>
    string Description { get; }

    /// <summary>Bytes allocated through <see cref="Allocate"/> and not yet freed: zero once every owner has disposed.</summary>
    long LiveBytes { get; }

    /// <summary>Allocates zeroed memory on this backend's device. The caller owns it.</summary>
    DeviceBuffer Allocate(long bytes);

    /// <summary>
    /// Bytes this backend's device can still allocate, as far as it can tell before trying, or null when it cannot
    /// tell. <see cref="Modeling.Model.Compile"/> checks a plan against it so that a batch too large fails with the
    /// figures instead of an allocator's out-of-memory error.
    /// </summary>
    long? AvailableMemoryBytes => null;

    /// <summary>Copies host values into <paramref name="dst"/> (memory order).</summary>
    void CopyFromHost<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged;

    /// <summary>Copies <paramref name="src"/> (memory order) into host memory.</summary>
    void CopyToHost<T>(Tensor src, Span<T> dst) where T : unmanaged;

    /// <summary>Waits until every queued operation has finished (a no-op on the CPU).</summary>
    void Synchronize();

    /// <summary>
    /// Whether plans of <paramref name="precision"/> can run here; when not, <paramref name="reason"/> says why in
    /// words a user can act on (e.g. "GPU 0 (Tesla P4, sm_61) has no fast fp16 arithmetic; use --precision fp32").
    /// <c>Model.Compile</c> asks before building a plan.
    /// </summary>
    bool SupportsPrecision(Precision precision, out string reason);

    // ---- Elementwise (CpuBackend/CudaBackend.Elementwise.cs, CpuKernels.Elementwise.cs, elementwise.cu) -----------

    /// <summary>t[i] = value.</summary>
    void Fill(Tensor t, float value);

    /// <summary>dst = src, converting layout (NCHW ↔ NHWC) and dtype where they differ.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>y = α·x + β·y, element-wise over equal shapes and layouts.</summary>
    void Axpby(float alpha, Tensor x, float beta, Tensor y);

    /// <summary>y = a + b, element-wise (the residual join). y may alias a or b.</summary>
    void Add(Tensor a, Tensor b, Tensor y);

    // ---- Activation (…Activation.cs, activation.cu) ---------------------------------------------------------------

    /// <summary>y = f(x) for an activation; y may alias x. <paramref name="alpha"/> is LeakyReLU's slope.</summary>
    void Activation(ActivationKind kind, float alpha, Tensor x, Tensor y);

    /// <summary>dx (+)= dy·f′ computed from the forward output y; dx may alias dy when not accumulating.</summary>
    void ActivationBackward(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate);

    /// <summary>
    /// PReLU (He et al. 2015, torch.nn.PReLU): y = x if x &gt; 0 else a·x, with a learned slope a per channel
    /// (<paramref name="alpha"/> has C elements) or shared (1 element). y may alias x only when backward is not needed.
    /// </summary>
    void PReluForward(Tensor x, Tensor alpha, Tensor y);

    /// <summary>dx (+)= dy·(x &gt; 0 ? 1 : a); dalpha (+)= Σ dy·x over the elements with x ≤ 0 (per channel or in total).</summary>
    void PReluBackward(Tensor x, Tensor alpha, Tensor dy, Tensor? dx, Tensor dalpha, bool accumulateDx, bool accumulateAlpha);

    // ---- Dropout (…Dropout.cs, dropout.cu) ------------------------------------------------------------------------

    /// <summary>
    /// Inverted dropout: y = x·keep/(1 − p) where keep(i) is a counter-based hash of
    /// (<paramref name="seed"/>, i) ≥ p, so backward and every backend regenerate the same mask.
    /// </summary>
    void DropoutForward(Tensor x, Tensor y, float p, ulong seed);

    /// <summary>dx (+)= dy·keep/(1 − p) with the mask of <see cref="DropoutForward"/> for the same seed.</summary>
    void DropoutBackward(Tensor dy, Tensor dx, float p, ulong seed, bool accumulate);

    // ---- Conv (…Conv.cs: cuDNN on the GPU, CpuIm2Col.cs + CpuGemm.cs on the CPU) ----------------------------------

    /// <summary>y = conv(x, w) (+ bias). x (N, C, H, W), w (K, C/groups, KH, KW), bias (K), y (N, K, OH, OW).</summary>
    void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec);

    /// <summary>dx (+)= conv_transpose(dy, w): the gradient of the input.</summary>
    void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, bool accumulate);

    /// <summary>dw (+)= the gradient of the weights; dbias (+)= Σ over N, OH, OW of dy when given.</summary>
    void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, ConvSpec spec, bool accumulate);

    /// <summary>
    /// Bytes of scratch a convolution of these shapes needs in all three directions, on <paramref name="dtype"/>
    /// activations in <paramref name="layout"/> — the plan's layout and activation type (reported by the memory plan).
    /// </summary>
    long Conv2dWorkspaceBytes(Shape x, Shape w, ConvSpec spec, Layout layout, DType dtype);

    // ---- Dense (…Dense.cs: cuBLAS on the GPU, CpuGemm.cs on the CPU) ----------------------------------------------

    /// <summary>
    /// Row-major matrix product c = α·op(a)·op(b) + β·c, where op transposes when asked.
    /// a, b, c are rank-2 (rank-4 and other tensors are read as (dim0, rest)).
    /// </summary>
    void Gemm(bool transA, bool transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /// <summary>y[n, c, …] += bias[c].</summary>
    void AddBias(Tensor y, Tensor bias);

    /// <summary>dbias[c] (+)= Σ over every other dimension of dy[n, c, …].</summary>
    void BiasBackward(Tensor dy, Tensor dbias, bool accumulate);

    // ---- Norm (…Norm.cs, CpuKernels.Norm.cs; cuDNN on the GPU) ----------------------------------------------------

    /// <summary>
    /// Batch normalisation in training mode (per channel over N, H, W; PyTorch's BatchNorm2d/1d):
    /// y = γ·(x − μ_B)/√(σ²_B + ε) + β with the biased batch variance; running ← (1 − m)·running + m·batch
    /// using the unbiased variance; saves μ_B and 1/√(σ²_B + ε) for backward.
    /// </summary>
    void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar,
        Tensor saveMean, Tensor saveInvStd, double momentum, double eps);

    /// <summary>y = γ·(x − running_mean)/√(running_var + ε) + β.</summary>
    void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps);

    /// <summary>
    /// Gradients of training-mode batch norm: dx (+)= …, dγ (+)= Σ dy·x̂, dβ (+)= Σ dy, from the forward's saved μ_B and
    /// 1/√(σ²_B + ε). <paramref name="eps"/> is the forward's ε: the saved inverse std already holds it, so a backend may
    /// ignore it, but cuDNN's contract asks for the same ε in forward and backward, so every caller passes it.
    /// </summary>
    void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, double eps,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams);

    // ---- Pool (…Pool.cs, CpuKernels.Pool.cs; cuDNN on the GPU) ----------------------------------------------------

    /// <summary>y = pool(x).</summary>
    void Pool2dForward(PoolSpec spec, Tensor x, Tensor y);

    /// <summary>dx (+)= the pooling gradient; max pooling uses x and y to find the window's maximum.</summary>
    void Pool2dBackward(PoolSpec spec, Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate);

    // ---- Join (…Join.cs, CpuKernels.Join.cs, join.cu): concatenation, option-A shortcut ---------------------------

    /// <summary>
    /// dst[:, dstC0 + i, h, w] (+)= src[:, srcC0 + i, h·stride, w·stride] for i in [0, channels):
    /// concatenation (stride 1) and the option-A shortcut's subsampling (stride 2). Channels of
    /// dst outside the range are left as they are.
    /// </summary>
    void CopyChannels(Tensor src, int srcC0, Tensor dst, int dstC0, int channels, int stride, bool accumulate);

    /// <summary>The adjoint of <see cref="CopyChannels"/>: dsrc[:, srcC0 + i, h·stride, w·stride] (+)= ddst[:, dstC0 + i, h, w].</summary>
    void CopyChannelsBackward(Tensor ddst, int dstC0, Tensor dsrc, int srcC0, int channels, int stride, bool accumulate);

    // ---- Loss (…Loss.cs, CpuKernels.Loss.cs, loss.cu): mean over the batch, scaled gradient -----------------------

    /// <summary>
    /// Softmax cross-entropy with integer labels, fused: loss[0] = −(1/N)·Σ log softmax(z)[label];
    /// dlogits = scale·(softmax(z) − onehot)/N when given; correct[0] = number of rows whose argmax
    /// equals the label (first maximum wins) when given. logits (N, K) fp32, labels (N) int32.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, K).</exception>
    void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor loss, Tensor? dlogits, Tensor? correct, float scale);

    /// <summary>loss[0] = (1/n)·Σ (p − t)²; dpred = scale·2(p − t)/n when given (n = element count).</summary>
    void MseLoss(Tensor pred, Tensor target, Tensor loss, Tensor? dpred, float scale);

    /// <summary>
    /// loss[0] = (1/n)·Σ [max(z, 0) − z·t + log(1 + e^−|z|)] (PyTorch's stable BCEWithLogitsLoss);
    /// dlogits = scale·(σ(z) − t)/n when given.
    /// </summary>
    void BceWithLogitsLoss(Tensor logits, Tensor target, Tensor loss, Tensor? dlogits, float scale);

    // ---- Optim (…Optim.cs, CpuKernels.Optim.cs, optim.cu): flat buffers -------------------------------------------

    /// <summary>
    /// Adds the gradient of the elastic-net penalty λ1·‖w‖₁ + (λ2/2)·‖w‖² to g, element-wise over flat fp32 spans
    /// of equal length: g[i] ← g[i] + λ1·sign(w[i]) + λ2·w[i], evaluated as (g + λ1·s) + λ2·w in fp32, where
    /// s = sign(w[i]) is +1, −1 or 0 for w = 0 (and for NaN), as torch.sign. λ2 alone is the L2 term that SGD's
    /// weight_decay adds; λ1 alone is the lasso's subgradient. The CUDA backend runs the kernel
    /// <c>dt_penalty_grad_f32(const float* w, float* g, int64_t count, float l1, float l2, cudaStream_t)</c>
    /// with these semantics.
    /// </summary>
    /// <exception cref="ArgumentException">w and g are not fp32 or differ in element count.</exception>
    /// <exception cref="ArgumentOutOfRangeException">λ1 or λ2 is negative or not finite.</exception>
    void PenaltyGradient(Tensor w, Tensor g, float l1, float l2);

    /// <summary>
    /// One SGD step over a flat span of parameters (see <see cref="SgdArgs"/> for the rule, the same equations in the same
    /// order as the fused kernel <c>dt_sgd_f32</c>); <paramref name="step"/> counts from 1; on step 1 the momentum buffer
    /// becomes g. For mixed precision, when <paramref name="workingCopy"/> is given (fp16 or bf16, w's element count), the
    /// fp32 master weights <paramref name="w"/> are updated and workingCopy = round(w) in the same pass; with
    /// <paramref name="scalerState"/> (a <see cref="LossScalerState"/>) the step number is its step count + 1
    /// (<paramref name="step"/> is ignored), and when its found-inf flag is set the call changes nothing at all: not w, not
    /// the momentum buffer, not the working copy.
    /// </summary>
    void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null);

    /// <summary>
    /// One Adam or AdamW step over flat spans (see <see cref="AdamArgs"/> for the rule, the same equations in the same
    /// order as the fused kernel <c>dt_adam_f32</c>); <paramref name="step"/> counts from 1. <paramref name="workingCopy"/>
    /// and <paramref name="scalerState"/> as in <see cref="SgdStep"/>: a step whose found-inf flag is set changes no weight
    /// and no moment, and the bias correction reads t = the state's step count + 1, which such a step does not advance.
    /// </summary>
    void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null);

    /// <summary>One Adagrad step over flat spans (see <see cref="AdagradArgs"/>); <paramref name="step"/> counts from 1.</summary>
    void AdagradStep(Tensor w, Tensor g, Tensor sum, AdagradArgs args, long step);

    /// <summary>
    /// One RMSProp step over flat spans (see <see cref="RmsPropArgs"/>); <paramref name="momentum"/> is used when
    /// μ &gt; 0 and <paramref name="gradAvg"/> when centered (either may be null otherwise).
    /// </summary>
    void RmsPropStep(Tensor w, Tensor g, Tensor v, Tensor? momentum, Tensor? gradAvg, RmsPropArgs args);

    // ---- LossScale (…LossScale.cs, loss_scale.cu): the state stays on the device ----------------------------------

    /// <summary>
    /// GradScaler's unscale (torch._amp_foreach_non_finite_check_and_unscale_, kernel <c>dt_unscale_f32</c>):
    /// g[i] ← g[i]·(1/scale) over the flat fp32 <paramref name="grads"/>, and the found-inf flag of
    /// <paramref name="scalerState"/> becomes 1 if any result is NaN or ±∞ (it is never cleared here).
    /// </summary>
    void UnscaleGradients(Tensor grads, Tensor scalerState);

    /// <summary>
    /// GradScaler.update (kernel <c>dt_update_scale</c>): if found-inf { scale ← scale·backoff; tracker ← 0 }
    /// else if ++tracker ≥ interval { scale ← scale·growth unless that is not finite; tracker ← 0 }; then, when the
    /// step was clean, the step count advances by one; finally found-inf ← 0. Growth finite and ≥ 1, backoff in (0, 1],
    /// interval ≥ 1 (a static scale: 1, 1, <see cref="int.MaxValue"/>). (≥ where PyTorch has =: a tracker restored at or
    /// past a smaller interval grows at the next clean step.)
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A factor or the interval is out of range.</exception>
    void UpdateLossScale(Tensor scalerState, float growthFactor, float backoffFactor, int growthInterval);

    /// <summary>x[i] ← x[i]·scale with the scale read from <paramref name="scalerState"/> on the device (the loss gradient, fp32).</summary>
    void MultiplyByLossScale(Tensor x, Tensor scalerState);

    // ---- Clip (…Clip.cs, clip.cu): clipping by the global norm ----------------------------------------------------

    /// <summary>normSquared[0] ← Σ x[i]² over the flat fp32 <paramref name="x"/> (overwritten; kernel <c>dt_global_norm_sq_f32</c>).</summary>
    void GlobalNormSquared(Tensor x, Tensor normSquared);

    /// <summary>
    /// torch.nn.utils.clip_grad_norm_'s scaling (kernel <c>dt_scale_by_norm_f32</c>): with n = √normSquared[0],
    /// g[i] ← g[i]·min(1, maxNorm/(n + 1e-6)); normSquared is read on the device.
    /// </summary>
    void ScaleByNorm(Tensor g, Tensor normSquared, float maxNorm);
}
