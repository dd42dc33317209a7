using DeepTrain.Tensors;

namespace DeepTrain.Mixed;

/// <summary>
/// The byte layout of the loss scaler's device state: one 24-byte tensor (an Int32 tensor of 6 elements) that
/// the unscale, update and optimizer kernels read and write in place, so a step needs no host synchronisation.
/// <code>
///   byte  0  float32  scale            the current loss scale
///   byte  4  int32    growth_tracker   consecutive clean steps since the scale last changed
///   byte  8  int32    found_inf        1 once an unscaled gradient was NaN or ±∞ this step
///   byte 12  int32    (reserved, 0)
///   byte 16  int64    step_count       optimizer steps actually taken (skipped ones not counted)
/// </code>
/// The CUDA kernels take pointers to the fields: scale at +0, growth_tracker at +4, found_inf at +8, step_count at +16.
/// </summary>
public static class LossScalerState
{
    /// <summary>Byte offset of the fp32 scale.</summary>
    public const int ScaleOffset = 0;
    /// <summary>Byte offset of the int32 growth tracker.</summary>
    public const int GrowthTrackerOffset = 4;
    /// <summary>Byte offset of the int32 found-inf flag.</summary>
    public const int FoundInfOffset = 8;
    /// <summary>Byte offset of the int64 step count.</summary>
    public const int StepCountOffset = 16;
    /// <summary>Size of the state in bytes.</summary>
    public const int Bytes = 24;
    /// <summary>The state tensor's shape: 6 Int32 elements.</summary>
    public static Shape Shape => Shape.Of(Bytes / 4);

    /// <summary>Throws unless <paramref name="state"/> is a 24-byte Int32 tensor (a scaler state).</summary>
    /// <exception cref="ArgumentException">It is not; the message names the operation.</exception>
    public static void Check(string op, Tensor state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.DType != DType.Int32 || state.Elements != Bytes / 4 || state.ByteOffset % 8 != 0)
            throw new ArgumentException($"{op}: scalerState is a {state.DType} tensor of shape {state.Shape}; expected the loss scaler's state, Int32 ({Bytes / 4},) at an 8-byte-aligned offset");
    }

    /// <summary>The host-side fields of a state read from or written to host memory.</summary>
    public readonly record struct Fields(float Scale, int GrowthTracker, int FoundInf, long StepCount)
    {
        /// <summary>Reads the fields from 24 bytes.</summary>
        public static Fields Read(ReadOnlySpan<byte> b) => new(
            BitConverter.ToSingle(b[ScaleOffset..]), BitConverter.ToInt32(b[GrowthTrackerOffset..]),
            BitConverter.ToInt32(b[FoundInfOffset..]), BitConverter.ToInt64(b[StepCountOffset..]));

        /// <summary>Writes the fields into 24 bytes (reserved bytes zeroed).</summary>
        public void Write(Span<byte> b)
        {
            b[..Bytes].Clear();
            BitConverter.TryWriteBytes(b[ScaleOffset..], Scale);
            BitConverter.TryWriteBytes(b[GrowthTrackerOffset..], GrowthTracker);
            BitConverter.TryWriteBytes(b[FoundInfOffset..], FoundInf);
            BitConverter.TryWriteBytes(b[StepCountOffset..], StepCount);
        }
    }
}
