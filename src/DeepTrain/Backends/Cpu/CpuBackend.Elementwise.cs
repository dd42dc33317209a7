using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Element-wise operations, bias, dropout and the channel copies of concatenation and the option-A
// shortcut. Each method validates its tensors, then runs a span kernel of CpuKernels over contiguous
// chunks on CpuParallel's threads. Element-wise math follows memory order, so operands must share
// shape and layout; Copy is the one operation that converts layouts.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Fill(Tensor t, float value)
    {
        if (Reduced(t)) { using var h = new Widened(); Fill(h.Out(t), value); return; }
        F32("Fill", "t", t);
        CpuParallel.For(checked((int)t.Elements), 1, new FillBody(t, value));
    }

    private readonly struct FillBody(Tensor t, float value) : IRangeBody
    {
        public void Run(int s, int e) => t.AsSpan<float>()[s..e].Fill(value);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Converts between the floating-point types (fp32 ↔ fp16 ↔ bf16): widening is exact, narrowing rounds to
    /// nearest even (the GPU's __float2half_rn and __float2bfloat16_rn); Int32 converts to nothing else.
    /// NCHW ↔ NHWC is a per-sample transpose of (C, H·W) ↔ (H·W, C). src and dst must not overlap unless
    /// they are the same tensor with the same layout and dtype (then the copy is a no-op).
    /// </remarks>
    /// <exception cref="NotSupportedException">One dtype is Int32 and the other is not.</exception>
    public void Copy(Tensor src, Tensor dst)
    {
        const string op = "Copy";
        if (src.Shape != dst.Shape) ThrowHelper.ShapeMismatch(op, "dst", src.Shape, dst.Shape);
        if (src.Device.Kind != DeviceKind.Cpu || dst.Device.Kind != DeviceKind.Cpu) ThrowHelper.Invalid(op, "the CPU backend needs host tensors");
        OperandChecks.ConvertibleDTypes(op, src, dst);
        if (src.DType != dst.DType)
        {
            bool overlaps = src.Pointer < dst.Pointer + (nint)dst.Bytes && dst.Pointer < src.Pointer + (nint)src.Bytes;
            if (overlaps) ThrowHelper.Invalid(op, $"src ({src.DType}) and dst ({dst.DType}) overlap; a conversion cannot run in place");
            ConvertCopy(src, dst);
            return;
        }
        bool overlap = src.Pointer < dst.Pointer + (nint)dst.Bytes && dst.Pointer < src.Pointer + (nint)src.Bytes;
        if (overlap && (src.Pointer != dst.Pointer || src.Layout != dst.Layout))
            ThrowHelper.Invalid(op, "src and dst overlap; a layout conversion cannot run in place");
        switch (src.DType.Size())
        {
            case 4: CopyTyped<float>(src, dst); break;
            default: CopyTyped<ushort>(src, dst); break;
        }
    }

    /// <summary>A dtype-converting copy: through fp32, in src's layout, then <see cref="Copy"/>'s layout conversion.</summary>
    private void ConvertCopy(Tensor src, Tensor dst)
    {
        using var wide = Tensor.Create(src.Shape, DType.Float32, src.Layout);
        if (src.DType == DType.Float32) src.AsSpan<float>().CopyTo(wide.AsSpan<float>());
        else Mixed.ReducedFloat.Widen(src.AsSpan<ushort>(), src.DType, wide.AsSpan<float>());
        if (dst.DType == DType.Float32) { Copy(wide, dst); return; }
        using var narrow = Tensor.Create(src.Shape, dst.DType, src.Layout);
        Mixed.ReducedFloat.Narrow(wide.AsSpan<float>(), narrow.AsSpan<ushort>(), dst.DType);
        Copy(narrow, dst);
    }

    private static void CopyTyped<T>(Tensor src, Tensor dst) where T : unmanaged
    {
        if (src.Pointer == dst.Pointer) return;
        if (src.Layout == dst.Layout)
        {
            CpuParallel.For(checked((int)src.Elements), 1, new CopyBody<T>(src, dst));
            return;
        }
        // (N, C, H, W): NCHW → NHWC transposes each sample's (C, HW) matrix; NHWC → NCHW its (HW, C).
        var shape = src.Shape;
        int c = shape.C, hw = shape.H * shape.W, per = c * hw;
        (int rows, int cols) = src.Layout == Layout.NCHW ? (c, hw) : (hw, c);
        CpuParallel.For(shape.N, per, new TransposeBody<T>(src, dst, per, rows, cols));
    }

    private readonly struct CopyBody<T>(Tensor src, Tensor dst) : IRangeBody where T : unmanaged
    {
        public void Run(int s, int e) => src.AsSpan<T>()[s..e].CopyTo(dst.AsSpan<T>()[s..e]);
    }

    private readonly struct TransposeBody<T>(Tensor src, Tensor dst, int per, int rows, int cols) : IRangeBody where T : unmanaged
    {
        public void Run(int n0, int n1)
        {
            for (int n = n0; n < n1; n++)
                CpuKernels.Transpose<T>(src.AsSpan<T>().Slice(n * per, per), dst.AsSpan<T>().Slice(n * per, per), rows, cols);
        }
    }

    /// <inheritdoc />
    public void Axpby(float alpha, Tensor x, float beta, Tensor y)
    {
        if (Reduced(x, y)) { using var h = new Widened(); Axpby(alpha, h.In(x), beta, h.Out(y)); return; }
        F32("Axpby", "x", x); F32("Axpby", "y", y);
        SameGeometry("Axpby", "x", x, "y", y);
        CpuParallel.For(checked((int)x.Elements), 2, new AxpbyBody(alpha, x, beta, y));
    }

    private readonly struct AxpbyBody(float alpha, Tensor x, float beta, Tensor y) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.Axpby(alpha, x.AsSpan<float>()[s..e], beta, y.AsSpan<float>()[s..e]);
    }

    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        if (Reduced(a, b, y)) { using var h = new Widened(); Add(h.In(a), h.In(b), h.Out(y)); return; }
        F32("Add", "a", a); F32("Add", "b", b); F32("Add", "y", y);
        SameGeometry("Add", "a", a, "b", b);
        SameGeometry("Add", "a", a, "y", y);
        CpuParallel.For(checked((int)a.Elements), 2, new AddBody(a, b, y));
    }

    private readonly struct AddBody(Tensor a, Tensor b, Tensor y) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.Add(a.AsSpan<float>()[s..e], b.AsSpan<float>()[s..e], y.AsSpan<float>()[s..e]);
    }
}
