using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Element-wise operations, dropout, PReLU and the channel copies of concatenation and the option-A shortcut, on the
// kernel library (deeptrain_kernels.h, ABI v3). The dtype-generic kernels load fp32/fp16/bf16 storage, compute in fp32
// and store with round-to-nearest-even; operands of one call share a dtype (Copy converts). Element-wise math follows
// memory order, so operands share shape and layout, as on the CPU; outputs may alias inputs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    public void Fill(Tensor t, float value)
    {
        const string op = "Fill";
        nint p = Ptr(op, "t", t);
        int dt = KernelDType(op, "t", t);
        if (t.Elements == 0) return;
        Launched(Kernels.dt_fill((void*)p, dt, t.Elements, value, _streamPtr), op);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Converts layout and dtype (fp32, fp16, bf16 in any combination) in one kernel (dt_convert); equal layout and dtype
    /// is a device-to-device memcpy (Int32 tensors only this way). src and dst must not overlap unless they are the same
    /// tensor with the same layout and dtype (then the copy is a no-op).
    /// </remarks>
    public void Copy(Tensor src, Tensor dst)
    {
        const string op = "Copy";
        nint s = Ptr(op, "src", src), d = Ptr(op, "dst", dst);
        if (src.Shape != dst.Shape) ThrowHelper.ShapeMismatch(op, "dst", src.Shape, dst.Shape);
        OperandChecks.ConvertibleDTypes(op, src, dst);
        bool plain = src.DType == dst.DType && (src.Layout == dst.Layout || src.Shape.Rank != 4);
        if (Overlaps(src, dst) && !(s == d && plain))
            ThrowHelper.Invalid(op, "src and dst overlap; a layout or dtype conversion cannot run in place");
        if (s == d || src.Elements == 0) return;
        if (plain)
        {
            try { Check(Cudart.cudaMemcpyAsync((void*)d, (void*)s, (nuint)src.Bytes, cudaMemcpyKind.cudaMemcpyDeviceToDevice, _stream)); }
            catch (CudaException e) { throw new CudaOperationException(op, $"{src.Shape}", e); }
            return;
        }
        int st = KernelDType(op, "src", src), dt = KernelDType(op, "dst", dst);
        var sh = src.Shape;
        // Logical (n, c, h, w); tensors of other ranks are flat and never change layout.
        (long n, long c, long h, long w) = sh.Rank == 4 ? (sh.N, sh.C, sh.H, sh.W) : (src.Elements, 1L, 1L, 1L);
        int sn = sh.Rank == 4 && src.Layout == Layout.NHWC ? 1 : 0, dn = sh.Rank == 4 && dst.Layout == Layout.NHWC ? 1 : 0;
        Launched(Kernels.dt_convert((void*)s, st, sn, (void*)d, dt, dn, n, c, h, w, _streamPtr), op);
    }

    /// <inheritdoc />
    public void Axpby(float alpha, Tensor x, float beta, Tensor y)
    {
        const string op = "Axpby";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y);
        if (MixedStorage(x, y)) { using var h = new Widened(this); Axpby(alpha, h.In(x), beta, h.Out(y)); return; }
        int dt = ElementwisePair(op, "x", x, "y", y);
        if (x.Elements == 0) return;
        Launched(Kernels.dt_axpby((void*)xp, (void*)yp, dt, x.Elements, alpha, beta, _streamPtr), op);
    }

    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        const string op = "Add";
        nint ap = Ptr(op, "a", a), bp = Ptr(op, "b", b), yp = Ptr(op, "y", y);
        if (MixedStorage(a, b, y)) { using var h = new Widened(this); Add(h.In(a), h.In(b), h.Out(y)); return; }
        int dt = ElementwisePair(op, "a", a, "b", b);
        ElementwisePair(op, "a", a, "y", y);
        if (a.Elements == 0) return;
        Launched(Kernels.dt_add((void*)ap, (void*)bp, (void*)yp, dt, a.Elements, _streamPtr), op);
    }

    /// <summary>1 when <paramref name="t"/> is a channels-last rank-4 tensor (a rank-2 tensor is the same memory in either layout).</summary>
    private static int ChannelsLast(Tensor t) => t.Shape.Rank == 4 && t.Layout == Layout.NHWC ? 1 : 0;

    /// <summary>
    /// The address of <paramref name="t"/>'s values in the layout given by <paramref name="nhwc"/>: its own when it already
    /// is, else a converted copy in the workspace (the kernels take one layout flag for both operands).
    /// </summary>
    private nint InLayoutOf(string op, Tensor t, nint p, int nhwc)
    {
        if (ChannelsLast(t) == nhwc || t.Shape.Rank != 4) return p;
        var sh = t.Shape;
        nint copy = Workspace(t.Bytes);
        int dt = (int)t.DType;
        Launched(Kernels.dt_convert((void*)p, dt, 1 - nhwc, (void*)copy, dt, nhwc, sh.N, sh.C, sh.H, sh.W, _streamPtr), op);
        return copy;
    }

    /// <summary>Element-wise operands: same shape, layout and storage type; returns the kernel dtype code.</summary>
    private static int ElementwisePair(string op, string an, Tensor a, string bn, Tensor b)
    {
        int dt = KernelDType(op, an, a);
        SameDType(op, an, a, bn, b);
        OperandChecks.SameGeometry(op, an, a, bn, b);
        return dt;
    }
}
