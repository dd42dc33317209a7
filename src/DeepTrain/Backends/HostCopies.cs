using DeepTrain.Tensors;

namespace DeepTrain.Backends;

/// <summary>Downloads of a tensor into a new host array: for diagnosis, export and load-time folding, not the step.</summary>
internal static class HostCopies
{
    /// <summary>A tensor's values as fp32 in a new array, widening a 16-bit tensor through a temporary device buffer.</summary>
    public static float[] ReadFloats(this IBackend backend, Tensor t)
    {
        var host = new float[t.Elements];
        if (t.DType == DType.Float32) { backend.CopyToHost<float>(t, host); return host; }
        using var buffer = backend.Allocate(t.Elements * sizeof(float));
        var wide = new Tensor(buffer, 0, t.Shape, DType.Float32, t.Layout);
        backend.Copy(t, wide);
        backend.CopyToHost<float>(wide, host);
        return host;
    }
}
