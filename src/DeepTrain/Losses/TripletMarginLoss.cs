using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Losses;

/// <summary>
/// torch.nn.TripletMarginLoss(margin, p=2, eps, swap=False, reduction='mean') (Schroff et al. 2015, FaceNet):
/// pulls an anchor's embedding towards a positive (same identity) and pushes it from a negative (another one)
/// until the negative is <see cref="Margin"/> further away than the positive:
/// <code>
///   d(x, y) = ‖x − y + ε‖₂                               (torch.pairwise_distance: ε inside the norm)
///   h_i     = d(a_i, p_i) − d(a_i, n_i) + margin
///   loss    = (1/B)·Σ_i max(h_i, 0)
///   where h_i ≥ 0 (PyTorch's clamp_min passes the gradient at 0):
///     ∂loss/∂a_i = (u_i − v_i)/B,  ∂loss/∂p_i = −u_i/B,  ∂loss/∂n_i = v_i/B
///     with u_i = (a_i − p_i + ε)/d(a_i, p_i) and v_i = (a_i − n_i + ε)/d(a_i, n_i) (0 where a distance is 0)
/// </code>
/// The model's output is one (3B, D) batch of embeddings from one forward pass of the shared network:
/// rows [0, B) are the anchors, [B, 2B) the positives, [2B, 3B) the negatives (load the batch's images in
/// that order). The loss reads no target: the plan's target is a one-element placeholder.
/// <para>
/// Computed on the host: the embeddings are copied out with <see cref="IBackend.CopyToHost{T}"/>, the loss
/// and gradient are computed in double, and the gradient is copied back with
/// <see cref="IBackend.CopyFromHost{T}"/>. That runs unchanged on every backend and needs no kernel. It is
/// cheap because embeddings are small (3B·D floats, e.g. 3·64·128 = 96 KiB against megabytes of
/// activations), and the training loop synchronises once per step to read the loss anyway. No existing
/// backend operation computes a per-row norm, so the alternative was a new operation (and CUDA kernel)
/// that fuses this whole loss; a loss over large outputs should take that route (see docs/extending.md).
/// Host buffers are allocated on the first call and reused, so a steady-state step allocates nothing.
/// </para>
/// </summary>
public sealed class TripletMarginLoss : Loss
{
    private float[] _host = [], _grad = [];

    /// <summary>Creates the loss with PyTorch's defaults: margin 1, ε = 1e-6.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The margin is negative or not finite, or ε is negative or not finite.</exception>
    public TripletMarginLoss(float margin = 1f, float eps = 1e-6f)
    {
        if (!(margin >= 0) || float.IsInfinity(margin)) throw new ArgumentOutOfRangeException(nameof(margin), margin, "TripletMarginLoss: margin must be finite and ≥ 0");
        if (!(eps >= 0) || float.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "TripletMarginLoss: eps must be finite and ≥ 0");
        (Margin, Eps) = (margin, eps);
    }

    /// <summary>How much further the negative must be than the positive before a triplet stops contributing.</summary>
    public float Margin { get; }
    /// <summary>ε added to the difference inside the norm (PyTorch's pairwise_distance).</summary>
    public float Eps { get; }
    /// <inheritdoc />
    public override string Name => "TripletMarginLoss";

    /// <inheritdoc />
    /// <exception cref="LayerShapeException">The output is not (3B, D) with B ≥ 1.</exception>
    public override Shape TargetShape(Shape output)
    {
        if (output.Rank != 2 || output.N % 3 != 0 || output.N == 0)
            throw new LayerShapeException($"TripletMarginLoss: the model's output has shape {output}, expected (3B, D) embeddings: B anchors, then B positives, then B negatives");
        return Shape.Of(1);
    }

    /// <inheritdoc />
    public override void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale)
    {
        TargetShape(output.Shape);
        int rows = output.Shape.N, dim = output.Shape[1], b = rows / 3;
        if (_host.Length != output.Elements) (_host, _grad) = (new float[output.Elements], new float[output.Elements]);
        backend.CopyToHost<float>(output, _host);
        double total = 0, eps = Eps, coeff = scale / (double)b;
        if (grad is not null) Array.Clear(_grad);
        for (int i = 0; i < b; i++)
        {
            var a = _host.AsSpan(i * dim, dim);
            var p = _host.AsSpan((b + i) * dim, dim);
            var n = _host.AsSpan((2 * b + i) * dim, dim);
            double dap = Distance(a, p, eps), dan = Distance(a, n, eps);
            double h = dap - dan + Margin;
            if (h > 0) total += h;
            if (grad is null || h < 0) continue;
            double su = dap > 0 ? coeff / dap : 0, sv = dan > 0 ? coeff / dan : 0;
            for (int k = 0; k < dim; k++)
            {
                double u = (a[k] - (double)p[k] + eps) * su, v = (a[k] - (double)n[k] + eps) * sv;
                _grad[i * dim + k] = (float)(u - v);
                _grad[(b + i) * dim + k] = (float)-u;
                _grad[(2 * b + i) * dim + k] = (float)v;
            }
        }
        backend.CopyFromHost<float>([(float)(total / b)], loss);
        if (grad is not null) backend.CopyFromHost<float>(_grad, grad);
    }

    /// <summary>‖x − y + ε‖₂ in double.</summary>
    private static double Distance(ReadOnlySpan<float> x, ReadOnlySpan<float> y, double eps)
    {
        double s = 0;
        for (int k = 0; k < x.Length; k++)
        {
            double d = x[k] - (double)y[k] + eps;
            s += d * d;
        }
        return Math.Sqrt(s);
    }
}
