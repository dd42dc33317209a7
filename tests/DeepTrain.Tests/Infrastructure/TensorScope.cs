using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// Tensors on a test's backend: each upload allocates through <see cref="IBackend.Allocate"/>, so the
/// same test body runs on host and device memory; disposing the scope frees every buffer.
/// </summary>
public sealed class TensorScope(IBackend backend) : IDisposable
{
    private readonly List<DeviceBuffer> _buffers = [];

    /// <summary>A zeroed tensor.</summary>
    public Tensor Zeros(Shape shape, Layout layout = Layout.NCHW, DType dtype = DType.Float32)
    {
        var buffer = backend.Allocate(shape.Elements * dtype.Size());
        _buffers.Add(buffer);
        return new Tensor(buffer, 0, shape, dtype, layout);
    }

    /// <summary>An fp32 tensor holding <paramref name="memoryOrder"/> (already in <paramref name="layout"/>'s order).</summary>
    public Tensor Upload(float[] memoryOrder, Shape shape, Layout layout = Layout.NCHW)
    {
        var t = Zeros(shape, layout);
        backend.CopyFromHost<float>(memoryOrder, t);
        return t;
    }

    /// <summary>An fp32 tensor from logical (N, C, H, W) values, stored in <paramref name="layout"/>.</summary>
    public Tensor UploadLogical(double[] nchw, Shape shape, Layout layout)
        => Upload(NaiveOps.ToFloat(layout == Layout.NHWC ? NaiveOps.NchwToNhwc(nchw, shape) : nchw), shape, layout);

    /// <summary>An int32 tensor.</summary>
    public Tensor Upload(int[] data, Shape shape)
    {
        var t = Zeros(shape, Layout.NCHW, DType.Int32);
        backend.CopyFromHost<int>(data, t);
        return t;
    }

    /// <summary>The fp32 elements in memory order.</summary>
    public float[] Download(Tensor t)
    {
        var a = new float[t.Elements];
        backend.CopyToHost<float>(t, a);
        return a;
    }

    /// <summary>The fp32 elements in logical (N, C, H, W) order, whatever the layout.</summary>
    public float[] DownloadLogical(Tensor t)
    {
        var a = Download(t);
        return t.Layout == Layout.NHWC ? NaiveOps.ToFloat(NaiveOps.NhwcToNchw(a.ToDouble(), t.Shape)) : a;
    }

    /// <summary>Frees every buffer this scope allocated.</summary>
    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
    }
}
