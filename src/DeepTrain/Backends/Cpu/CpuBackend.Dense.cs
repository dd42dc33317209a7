using ConvGeom = DeepTrain.Backends.ConvGeometry;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The dense family: the matrix product of Linear layers (packed GEMM, CpuGemm.cs), the bias add and its gradient.
// The CUDA twins are in CudaBackend.Dense.cs (cuBLAS).
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public unsafe void Gemm(bool transA, bool transB, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        if (Reduced(a, b, c)) { using var h = new Widened(); Gemm(transA, transB, alpha, h.In(a), h.In(b), beta, h.Out(c)); return; }
        const string op = "Gemm";
        CheckConvTensors(op, a, "a", b, "b", c, "c");
        var (m, n, ka) = OperandChecks.Gemm(op, transA, transB, a, b, c);
        int ac = transA ? m : ka, bc = transB ? ka : n;
        float* ap = (float*)a.Pointer, bp = (float*)b.Pointer, cp = (float*)c.Pointer;
        // A row-major (r, c) matrix read as op: element (i, p) at i·c + p, or at p·c + i when transposed.
        nint rsA = transA ? 1 : ac, csA = transA ? ac : 1;
        nint rsB = transB ? 1 : bc, csB = transB ? bc : 1;
        int k = ka;

        // Threads take disjoint blocks of C: column blocks (multiples of NR) when C is wide,
        // row blocks (multiples of MR) otherwise. Each block is an independent GEMM.
        long flops = 2L * m * n * k;
        bool byColumns = n >= m;
        int blocks = byColumns ? (n + CpuGemm.NR - 1) / CpuGemm.NR : (m + CpuGemm.MR - 1) / CpuGemm.MR;
        CpuParallel.For(blocks, flops / Math.Max(blocks, 1), new GemmBody(m, n, k, alpha, ap, rsA, csA, bp, rsB, csB, beta, cp, byColumns));
    }

    /// <summary>C (M, N) = α·op(A)·op(B) + β·C over column blocks [s·NR, e·NR), or row blocks [s·MR, e·MR).</summary>
    private readonly unsafe struct GemmBody(int m, int n, int k, float alpha, float* ap, nint rsA, nint csA, float* bp, nint rsB, nint csB,
        float beta, float* cp, bool byColumns) : IRangeBody
    {
        public void Run(int s, int e)
        {
            if (byColumns)
            {
                int j0 = s * CpuGemm.NR, j1 = Math.Min(n, e * CpuGemm.NR);
                CpuGemm.Sgemm(m, j1 - j0, k, alpha, ap, rsA, csA, bp + j0 * csB, rsB, csB, beta, cp + j0, n, 1);
            }
            else
            {
                int i0 = s * CpuGemm.MR, i1 = Math.Min(m, e * CpuGemm.MR);
                CpuGemm.Sgemm(i1 - i0, n, k, alpha, ap + i0 * rsA, rsA, csA, bp, rsB, csB, beta, cp + (nint)i0 * n, n, 1);
            }
        }
    }

    /// <inheritdoc />
    public void AddBias(Tensor y, Tensor bias)
    {
        if (Reduced(y, bias)) { using var h = new Widened(); AddBias(h.Out(y), h.In(bias)); return; }
        F32("AddBias", "y", y); F32("AddBias", "bias", bias);
        var g = ChannelGeometry.Of("AddBias", "y", y);
        PerChannel("AddBias", "bias", bias, g.C);
        if (g.ChannelsLast)
        {
            // (N·H·W, C): every row gains the bias vector.
            CpuParallel.For(g.Rows, g.C, new AddBiasBody(y, bias, g));
        }
        else
        {
            // (N·C, H·W): plane (n, c) gains bias[c].
            CpuParallel.For(g.N * g.C, g.Spatial, new AddBiasBody(y, bias, g));
        }
    }

    /// <summary>Channels-last: items are rows (N·H·W, C), each gaining the bias vector; else planes (N·C, H·W), each gaining bias[c].</summary>
    private readonly struct AddBiasBody(Tensor y, Tensor bias, ChannelGeometry g) : IRangeBody
    {
        public void Run(int i0, int i1)
        {
            Span<float> ys = y.AsSpan<float>();
            ReadOnlySpan<float> b = bias.AsSpan<float>();
            if (g.ChannelsLast)
                for (int r = i0; r < i1; r++) CpuKernels.AddInPlace(ys.Slice(r * g.C, g.C), b);
            else
                for (int p = i0; p < i1; p++) CpuKernels.AddScalar(ys.Slice(p * g.Spatial, g.Spatial), b[p % g.C]);
        }
    }

    /// <inheritdoc />
    public unsafe void BiasBackward(Tensor dy, Tensor dbias, bool accumulate)
    {
        if (Reduced(dy, dbias)) { using var h = new Widened(); BiasBackward(h.In(dy), h.Out(dbias), accumulate); return; }
        F32("BiasBackward", "dy", dy); F32("BiasBackward", "dbias", dbias);
        var g = ChannelGeometry.Of("BiasBackward", "dy", dy);
        PerChannel("BiasBackward", "dbias", dbias, g.C);
        double* sums = CpuScratch.Current.GetDoubles(CpuScratch.Slot.Statistics, g.C);
        // dbias[c] = Σ over n and the spatial positions of dy[n, c, …], summed in double.
        if (g.ChannelsLast) CpuReduce.Rows(g, sums, 1, new BiasRows(dy, g));
        else CpuReduce.Planes(g, sums, new BiasPlanes(dy, g));
        Span<float> db = dbias.AsSpan<float>();
        for (int c = 0; c < g.C; c++) db[c] = (float)(accumulate ? db[c] + sums[c] : sums[c]);
    }

    private readonly struct BiasRows(Tensor dy, ChannelGeometry g) : IRowAccumulator
    {
        public void Accumulate(int r0, int r1, Span<float> partial)
        {
            ReadOnlySpan<float> d = dy.AsSpan<float>();
            for (int r = r0; r < r1; r++) CpuKernels.AddInPlace(partial, d.Slice(r * g.C, g.C));
        }
    }

    private readonly struct BiasPlanes(Tensor dy, ChannelGeometry g) : IChannelSum
    {
        public double Sum(int c)
        {
            ReadOnlySpan<float> d = dy.AsSpan<float>();
            double s = 0;
            for (int n = 0; n < g.N; n++) s += CpuKernels.Sum(d.Slice((n * g.C + c) * g.Spatial, g.Spatial));
            return s;
        }
    }
}
