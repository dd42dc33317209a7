using System.Runtime.InteropServices;
using DeepTrain.Backends;
using DeepTrain.Checkpoints;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// Host buffers that a run's checkpoints are written from, one per tensor name, kept from one commit to the next. Without
/// them every epoch's commit made two fresh host copies of every weight and optimizer-state tensor (a float[] download
/// and its safetensors bytes): LeNet-5 allocated 7 MB an epoch on the large-object heap, which the GC left standing,
/// so RSS rose ~8 MiB an epoch (benchmarks/README.md, "Memory across epochs"). Now a tensor is downloaded straight
/// into its bytes, and the bytes are reused: after the first commit, a commit allocates only its headers.
/// A <see cref="NamedArray"/> handed out views the buffer, so it is valid until the next call for the same name.
/// </summary>
internal sealed class CheckpointStaging
{
    private readonly Dictionary<string, byte[]> _buffers = new(StringComparer.Ordinal);

    /// <summary><paramref name="t"/> (fp32) as an F32 tensor named <paramref name="name"/>, downloaded into this name's buffer.</summary>
    public NamedArray Float32(IBackend backend, string name, Tensor t)
    {
        long bytes = t.Elements * sizeof(float);
        if (!_buffers.TryGetValue(name, out var buffer) || buffer.Length != bytes)
            _buffers[name] = buffer = new byte[bytes];
        backend.CopyToHost<float>(t, MemoryMarshal.Cast<byte, float>(buffer.AsSpan()));
        LittleEndian.InPlace(buffer, sizeof(float));
        return new NamedArray(name, SafetensorsDType.F32, t.Shape, buffer);
    }
}
