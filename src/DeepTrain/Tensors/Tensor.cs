using DeepTrain.Memory;

namespace DeepTrain.Tensors;

/// <summary>
/// A dense view into a <see cref="DeviceBuffer"/>: shape, element type, layout and a byte offset.
/// Tensors carry no autograd tape. A tensor made by <see cref="Create"/> or <c>FromArray</c>
/// owns its buffer and frees it on <see cref="Dispose"/>; a view (<see cref="View"/>, or any
/// tensor handed out by a plan) owns nothing and must not outlive the buffer's owner.
/// </summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly bool _ownsBuffer;

    /// <summary>Creates a view of <paramref name="buffer"/> starting <paramref name="byteOffset"/> bytes in.</summary>
    /// <exception cref="ArgumentException">The view does not fit in the buffer.</exception>
    public Tensor(DeviceBuffer buffer, long byteOffset, Shape shape, DType dtype = DType.Float32, Layout layout = Layout.NCHW)
        : this(buffer, byteOffset, shape, dtype, layout, ownsBuffer: false) { }

    private Tensor(DeviceBuffer buffer, long byteOffset, Shape shape, DType dtype, Layout layout, bool ownsBuffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        long bytes = shape.Elements * dtype.Size();
        if (byteOffset < 0 || byteOffset + bytes > buffer.Bytes)
            throw new ArgumentException($"a {dtype} tensor of shape {shape} at byte {byteOffset} needs {bytes} bytes, but its buffer holds {buffer.Bytes}");
        Buffer = buffer;
        ByteOffset = byteOffset;
        Shape = shape;
        DType = dtype;
        Layout = shape.Rank == 4 ? layout : Layout.NCHW;
        _ownsBuffer = ownsBuffer;
    }

    /// <summary>The storage this tensor views.</summary>
    public DeviceBuffer Buffer { get; }
    /// <summary>Offset of element 0 in <see cref="Buffer"/>, in bytes.</summary>
    public long ByteOffset { get; }
    /// <summary>Logical shape; (N, C, H, W) for rank 4 whatever the layout.</summary>
    public Shape Shape { get; }
    /// <summary>Element type.</summary>
    public DType DType { get; }
    /// <summary>Memory order of a rank-4 tensor.</summary>
    public Layout Layout { get; }
    /// <summary>Where the memory is.</summary>
    public Device Device => Buffer.Device;
    /// <summary>Number of elements.</summary>
    public long Elements => Shape.Elements;
    /// <summary>Size of the view in bytes.</summary>
    public long Bytes => Elements * DType.Size();
    /// <summary>Address of element 0.</summary>
    public nint Pointer => Buffer.Pointer + (nint)ByteOffset;

    /// <summary>
    /// Element strides of the logical (N, C, H, W) dimensions for this layout. For rank &lt; 4
    /// the shape is read as (N, C, 1, 1).
    /// </summary>
    public (long N, long C, long H, long W) Strides4
    {
        get
        {
            long c = Shape.Rank >= 2 ? Shape.C : 1, h = Shape.H, w = Shape.W;
            return Layout == Layout.NHWC ? (h * w * c, 1, w * c, c) : (c * h * w, h * w, w, 1);
        }
    }

    /// <summary>Allocates a zeroed host tensor that owns its memory.</summary>
    public static Tensor Create(Shape shape, DType dtype = DType.Float32, Layout layout = Layout.NCHW)
        => new(new HostBuffer(shape.Elements * dtype.Size()), 0, shape, dtype, layout, ownsBuffer: true);

    /// <summary>Copies <paramref name="data"/> into a new host fp32 tensor that owns its memory.</summary>
    /// <exception cref="ArgumentException">The data length is not the shape's element count.</exception>
    public static Tensor FromArray(ReadOnlySpan<float> data, Shape shape, Layout layout = Layout.NCHW)
    {
        if (data.Length != shape.Elements) throw new ArgumentException($"{data.Length} values cannot fill shape {shape} ({shape.Elements} elements)", nameof(data));
        var t = Create(shape, DType.Float32, layout);
        data.CopyTo(t.AsSpan<float>());
        return t;
    }

    /// <summary>Copies <paramref name="data"/> into a new host int32 tensor that owns its memory.</summary>
    /// <exception cref="ArgumentException">The data length is not the shape's element count.</exception>
    public static Tensor FromArray(ReadOnlySpan<int> data, Shape shape)
    {
        if (data.Length != shape.Elements) throw new ArgumentException($"{data.Length} values cannot fill shape {shape} ({shape.Elements} elements)", nameof(data));
        var t = Create(shape, DType.Int32);
        data.CopyTo(t.AsSpan<int>());
        return t;
    }

    /// <summary>The elements of a host tensor as a span, in memory (layout) order.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not in host memory, or <typeparamref name="T"/> does not match its dtype's size.</exception>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (Device.Kind != DeviceKind.Cpu) throw new InvalidOperationException($"tensor {Shape} is on {Device}; copy it to the host first");
        if (sizeof(T) != DType.Size()) throw new InvalidOperationException($"tensor {Shape} holds {DType}, not {typeof(T).Name}");
        return new Span<T>((void*)Pointer, checked((int)Elements));
    }

    /// <summary>Copies a host tensor's elements (memory order) into a new array.</summary>
    public float[] ToArray() => AsSpan<float>().ToArray();

    /// <summary>A view of the same bytes with another shape of equal element count.</summary>
    /// <exception cref="ArgumentException">The element counts differ.</exception>
    public Tensor View(Shape shape, Layout? layout = null)
    {
        if (shape.Elements != Elements) throw new ArgumentException($"cannot view {Shape} ({Elements} elements) as {shape} ({shape.Elements} elements)", nameof(shape));
        return new Tensor(Buffer, ByteOffset, shape, DType, layout ?? Layout);
    }

    /// <summary>A view of <paramref name="count"/> consecutive samples starting at sample <paramref name="start"/> (dimension 0).</summary>
    public Tensor Narrow(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Shape[0]) throw new ArgumentOutOfRangeException(nameof(start), $"samples [{start}, {start + count}) are outside {Shape}");
        long per = Elements / Math.Max(Shape[0], 1);
        return new Tensor(Buffer, ByteOffset + start * per * DType.Size(), Shape.WithBatch(count), DType, Layout);
    }

    /// <summary>Frees the buffer if this tensor owns it; a no-op for views.</summary>
    public void Dispose()
    {
        if (_ownsBuffer) Buffer.Dispose();
    }

    /// <inheritdoc />
    public override string ToString() => $"Tensor{Shape} {DType} {Layout} on {Device}";
}
