namespace DeepTrain.Backends;

/// <summary>
/// Geometry of a 2-D convolution (PyTorch's <c>torch.nn.Conv2d</c>): output size
/// OH = ⌊(H + 2·padH − dilH·(KH − 1) − 1) / strideH⌋ + 1, likewise OW.
/// Weights are (K, C/groups, KH, KW); input channel c belongs to group c / (C/groups).
/// </summary>
public readonly record struct ConvSpec(int StrideH = 1, int StrideW = 1, int PadH = 0, int PadW = 0, int DilationH = 1, int DilationW = 1, int Groups = 1)
{
    /// <summary>A square convolution.</summary>
    public static ConvSpec Square(int stride = 1, int pad = 0, int dilation = 1, int groups = 1) => new(stride, stride, pad, pad, dilation, dilation, groups);

    /// <summary>Output height for input height <paramref name="h"/> and kernel height <paramref name="kh"/>.</summary>
    public int OutH(int h, int kh) => (h + 2 * PadH - DilationH * (kh - 1) - 1) / StrideH + 1;
    /// <summary>Output width for input width <paramref name="w"/> and kernel width <paramref name="kw"/>.</summary>
    public int OutW(int w, int kw) => (w + 2 * PadW - DilationW * (kw - 1) - 1) / StrideW + 1;
}

/// <summary>Pooling reduction.</summary>
public enum PoolMode : byte
{
    /// <summary>Maximum; the gradient goes to the first maximal element of each window (PyTorch's tie rule).</summary>
    Max,
    /// <summary>Average counting padded zeros in the divisor (PyTorch <c>count_include_pad=True</c>, its default).</summary>
    AverageIncludePad,
    /// <summary>Average over the in-bounds elements only.</summary>
    AverageExcludePad,
}

/// <summary>Geometry of a 2-D pooling window (PyTorch's <c>MaxPool2d</c>/<c>AvgPool2d</c>, floor mode).</summary>
public readonly record struct PoolSpec(PoolMode Mode, int KernelH, int KernelW, int StrideH, int StrideW, int PadH = 0, int PadW = 0)
{
    /// <summary>Output height for input height <paramref name="h"/>.</summary>
    public int OutH(int h) => (h + 2 * PadH - KernelH) / StrideH + 1;
    /// <summary>Output width for input width <paramref name="w"/>.</summary>
    public int OutW(int w) => (w + 2 * PadW - KernelW) / StrideW + 1;
}

/// <summary>Element-wise activation functions. Every backward is computed from the output y alone.</summary>
public enum ActivationKind : byte
{
    /// <summary>y = max(x, 0); dx = dy·[y &gt; 0].</summary>
    Relu,
    /// <summary>y = x if x &gt; 0 else α·x (α &gt; 0); dx = dy·(y &gt; 0 ? 1 : α).</summary>
    LeakyRelu,
    /// <summary>y = 1 / (1 + e^−x); dx = dy·y·(1 − y).</summary>
    Sigmoid,
    /// <summary>y = tanh x; dx = dy·(1 − y²).</summary>
    Tanh,
}

/// <summary>
/// Hyper-parameters of one SGD step (PyTorch's <c>torch.optim.SGD</c>):
/// g ← g + λ·w (L2 decay, the λ/2·‖w‖² term); b ← μ·b + (1 − τ)·g (b ← g on step 1);
/// g ← g + μ·b if Nesterov else b; w ← w − lr·g.
/// </summary>
public readonly record struct SgdArgs(float LearningRate, float Momentum = 0f, float Dampening = 0f, float WeightDecay = 0f, bool Nesterov = false,
    SgdMomentumForm Form = SgdMomentumForm.PyTorch);

/// <summary>
/// The two textbook forms of SGD momentum. They give the same trajectory while the learning rate is
/// constant and differ when a schedule changes it: the PyTorch form applies the new rate to the whole
/// velocity at once, the Caffe form only to new gradients.
/// </summary>
public enum SgdMomentumForm : byte
{
    /// <summary>torch.optim.SGD: b ← μ·b + (1 − τ)·g; w ← w − lr·b (Nesterov: w ← w − lr·(g + μ·b)).</summary>
    PyTorch,
    /// <summary>
    /// Caffe's SGDSolver and Sutskever et al. 2013: v ← μ·v + lr·g; w ← w − v (Nesterov, Caffe's
    /// NesterovSolver: w ← w − ((1 + μ)·v − μ·v_prev)). No dampening.
    /// </summary>
    Caffe,
}

/// <summary>
/// Hyper-parameters of one Adam or AdamW step (torch.optim.Adam / AdamW). With <see cref="Decoupled"/> false
/// the decay is the L2 term (g ← g + λ·w, Adam's weight_decay); true is AdamW's w ← w − lr·λ·w applied
/// outside the adaptive step. Then m ← β1·m + (1 − β1)·g, v ← β2·v + (1 − β2)·g², and
/// w ← w − lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + ε): bias correction with β1^t and β2^t for the first and
/// second moments respectively.
/// </summary>
public readonly record struct AdamArgs(float LearningRate, float Beta1 = 0.9f, float Beta2 = 0.999f, float Eps = 1e-8f, float WeightDecay = 0f, bool Decoupled = false);

/// <summary>
/// Hyper-parameters of one Adagrad step (Duchi et al. 2011; torch.optim.Adagrad): g ← g + λ·w;
/// s ← s + g²; w ← w − lr/(1 + (t − 1)·lr_decay) · g/(√s + ε).
/// </summary>
public readonly record struct AdagradArgs(float LearningRate, float LrDecay = 0f, float WeightDecay = 0f, float Eps = 1e-10f);

/// <summary>
/// Hyper-parameters of one RMSProp step (Hinton's lecture 6e; torch.optim.RMSprop): g ← g + λ·w;
/// v ← α·v + (1 − α)·g²; centered: ḡ ← α·ḡ + (1 − α)·g and d = √(v − ḡ²) + ε, else d = √v + ε;
/// with momentum μ &gt; 0: b ← μ·b + g/d, w ← w − lr·b; else w ← w − lr·g/d.
/// </summary>
public readonly record struct RmsPropArgs(float LearningRate, float Alpha = 0.99f, float Eps = 1e-8f, float WeightDecay = 0f, float Momentum = 0f, bool Centered = false);
