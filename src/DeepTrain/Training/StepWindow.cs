using System.Runtime.InteropServices;
using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// The training figures of the steps since the last host synchronisation, kept on the device so that a step
/// never waits for the host. After every micro-step the plan's loss and correct count (two adjacent fp32
/// scalars) are copied on the device into the next slot; at a sync point <see cref="Read"/> brings the whole
/// window back with one <see cref="IBackend.CopyToHost{T}"/>, and <see cref="Fold"/> sums it on the host in
/// double, in step order — the same sums, in the same order, as reading every step. One buffer:
/// <code>
///   int32[6]      the loss scaler's state at the start of the epoch   (copied on the device by Begin)
///   int32[6]      the loss scaler's state at the last sync point      (copied on the device by Read)
///   float32[2·m]  (loss, correct) of micro-step i at [2i, 2i + 1], m = steps × accumulation
/// </code>
/// Recording a value instead of adding it to a device sum keeps a non-finite loss out of the epoch's mean
/// (the host skips it, as for a step the loss scaler skipped) and names the exact step that produced it,
/// with no new backend operation. The device memory is 8 bytes per micro-step of the window.
/// </summary>
internal sealed class StepWindow : IDisposable
{
    private const int Header = 2 * LossScalerState.Bytes / 4;   // int32 elements before the slots
    private readonly IBackend _backend;
    private readonly DeviceBuffer _buffer;
    private readonly Tensor _start, _now;
    private readonly Tensor? _sourcePair;                       // the plan's (loss, correct) as one 2-element view, when adjacent
    private readonly Tensor _sourceLoss, _sourceCorrect;
    private readonly Tensor[] _pair, _loss, _correct;           // slot views, made once: recording allocates nothing
    private readonly Tensor?[] _prefix;                         // Int32 views of the first Header + 2i elements, made on first use
    private readonly int[] _host;
    private readonly int[] _batch, _count;                      // per step of the window: batch index, images
    private readonly float[] _lr;
    private readonly int _micro;

    /// <summary>Allocates a window of <paramref name="steps"/> steps of <paramref name="microSteps"/> micro-steps each.</summary>
    /// <param name="backend">The backend that owns the plan.</param>
    /// <param name="lossValue">The plan's fp32 loss scalar.</param>
    /// <param name="correct">The plan's fp32 correct count.</param>
    /// <param name="steps">Steps the window holds (≥ 1).</param>
    /// <param name="microSteps">Micro-steps per step (gradient accumulation, ≥ 1).</param>
    public StepWindow(IBackend backend, Tensor lossValue, Tensor correct, int steps, int microSteps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(microSteps, 1);
        (_backend, _micro, Steps) = (backend, microSteps, steps);
        int slots = steps * microSteps;
        _buffer = backend.Allocate((Header + 2L * slots) * 4);
        _start = new Tensor(_buffer, 0, LossScalerState.Shape, DType.Int32);
        _now = new Tensor(_buffer, LossScalerState.Bytes, LossScalerState.Shape, DType.Int32);
        (_sourceLoss, _sourceCorrect) = (lossValue, correct);
        if (ReferenceEquals(lossValue.Buffer, correct.Buffer) && correct.ByteOffset == lossValue.ByteOffset + 4)
            _sourcePair = new Tensor(lossValue.Buffer, lossValue.ByteOffset, Shape.Of(2));
        _pair = new Tensor[slots];
        _loss = new Tensor[slots];
        _correct = new Tensor[slots];
        for (int i = 0; i < slots; i++)
        {
            long at = (Header + 2L * i) * 4;
            _pair[i] = new Tensor(_buffer, at, Shape.Of(2));
            _loss[i] = new Tensor(_buffer, at, Shape.Of(1));
            _correct[i] = new Tensor(_buffer, at + 4, Shape.Of(1));
        }
        _prefix = new Tensor?[slots + 1];
        _host = new int[Header + 2 * slots];
        _batch = new int[steps];
        _count = new int[steps];
        _lr = new float[steps];
    }

    /// <summary>Steps the window holds.</summary>
    public int Steps { get; }
    /// <summary>Micro-steps per step.</summary>
    public int MicroSteps => _micro;
    /// <summary>Steps recorded since the last <see cref="Fold"/>.</summary>
    public int Pending { get; private set; }
    /// <summary>True when no further step fits before a sync.</summary>
    public bool Full => Pending == Steps;
    private int _recorded;   // micro-steps recorded in the current window

    /// <summary>The scaler state at the epoch's start, as of the last <see cref="Read"/>.</summary>
    public LossScalerState.Fields StartState { get; private set; }
    /// <summary>The scaler state at the last <see cref="Read"/>.</summary>
    public LossScalerState.Fields NowState { get; private set; }

    /// <summary>Starts an epoch: empties the window and, with a scaler, copies its state aside on the device.</summary>
    public void Begin(Tensor? scalerState)
    {
        Pending = _recorded = 0;
        if (scalerState is not null) _backend.Copy(scalerState, _start);
    }

    /// <summary>Copies the plan's loss and correct count into the next micro-step slot (on the device; no sync).</summary>
    /// <exception cref="InvalidOperationException">The window is full (a sync was due).</exception>
    public void RecordMicroStep()
    {
        if (Full) throw new InvalidOperationException($"step window: {Steps} steps recorded without a sync");
        if (_recorded >= (Pending + 1) * _micro) throw new InvalidOperationException($"step window: more than {_micro} micro-steps in one step; call EndStep");
        int i = _recorded++;
        if (_sourcePair is not null) _backend.Copy(_sourcePair, _pair[i]);
        else { _backend.Copy(_sourceLoss, _loss[i]); _backend.Copy(_sourceCorrect, _correct[i]); }
    }

    /// <summary>Closes the current step: its 0-based batch index, images and learning rate (host bookkeeping).</summary>
    /// <exception cref="InvalidOperationException">The window is full, or the step did not record every micro-step.</exception>
    public void EndStep(int batch, int images, float lr)
    {
        if (Full) throw new InvalidOperationException($"step window: {Steps} steps recorded without a sync");
        if (_recorded != (Pending + 1) * _micro) throw new InvalidOperationException($"step window: batch {batch} recorded {_recorded - Pending * _micro} of {_micro} micro-steps");
        (_batch[Pending], _count[Pending], _lr[Pending]) = (batch, images, lr);
        Pending++;
    }

    /// <summary>
    /// The host synchronisation: with a scaler, copies its state next to the start state on the device, then
    /// copies the header and every recorded slot to the host in one transfer.
    /// </summary>
    public void Read(Tensor? scalerState)
    {
        if (scalerState is not null) _backend.Copy(scalerState, _now);
        var prefix = _prefix[_recorded] ??= new Tensor(_buffer, 0, Shape.Of(Header + 2 * _recorded), DType.Int32);
        _backend.CopyToHost<int>(prefix, _host.AsSpan(0, Header + 2 * _recorded));
        var bytes = MemoryMarshal.AsBytes(_host.AsSpan(0, Header));
        StartState = LossScalerState.Fields.Read(bytes);
        NowState = LossScalerState.Fields.Read(bytes[LossScalerState.Bytes..]);
    }

    /// <summary>Micro-step <paramref name="micro"/> of window step <paramref name="step"/>'s loss, as read.</summary>
    public float Loss(int step, int micro) => BitConverter.Int32BitsToSingle(_host[Header + 2 * (step * _micro + micro)]);
    /// <summary>Micro-step <paramref name="micro"/> of window step <paramref name="step"/>'s correct count, as read.</summary>
    public float Correct(int step, int micro) => BitConverter.Int32BitsToSingle(_host[Header + 2 * (step * _micro + micro) + 1]);
    /// <summary>Window step <paramref name="step"/>'s 0-based batch index in the epoch.</summary>
    public int Batch(int step) => _batch[step];
    /// <summary>Window step <paramref name="step"/>'s learning rate.</summary>
    public float LearningRate(int step) => _lr[step];

    /// <summary>The first (step, micro-step) of the window, as read, whose loss is NaN or ±∞; null when all are finite.</summary>
    public (int Step, int Micro)? FirstNonFinite()
    {
        for (int s = 0; s < Pending; s++)
            for (int k = 0; k < _micro; k++)
                if (!float.IsFinite(Loss(s, k))) return (s, k);
        return null;
    }

    /// <summary>
    /// Adds the window, as read, to <paramref name="totals"/> and empties it. A step's loss is the mean of its
    /// micro-steps' (Σ micro/k in order, in double, as the per-step loop summed it); a non-finite step loss is
    /// left out of the loss sum (a step the scaler skipped), its images and correct count are not.
    /// </summary>
    public void Fold(ref EpochTotals totals, bool countsCorrect)
    {
        double windowLoss = 0, windowCorrect = 0;
        long windowLossImages = 0, windowImages = 0;
        for (int s = 0; s < Pending; s++)
        {
            double loss = 0, correct = 0;
            for (int k = 0; k < _micro; k++)
            {
                loss += (double)Loss(s, k) / _micro;
                if (countsCorrect) correct += Correct(s, k);
            }
            int n = _count[s];
            if (double.IsFinite(loss)) { totals.LossSum += loss * n; totals.LossImages += n; windowLoss += loss * n; windowLossImages += n; }
            totals.Correct += correct;
            windowCorrect += correct;
            windowImages += n;
            if (s == Pending - 1)
                (totals.LastBatch, totals.LastLoss, totals.LastAccuracy) = (_batch[s] + 1, loss, countsCorrect ? correct / n : double.NaN);
        }
        if (Pending > 0)
        {
            totals.WindowLoss = windowLossImages > 0 ? windowLoss / windowLossImages : double.NaN;
            totals.WindowAccuracy = countsCorrect && windowImages > 0 ? windowCorrect / windowImages : double.NaN;
        }
        Pending = _recorded = 0;
    }

    /// <inheritdoc />
    public void Dispose() => _buffer.Dispose();
}

/// <summary>An epoch's host-side sums, updated at every sync point by <see cref="StepWindow.Fold"/>.</summary>
internal struct EpochTotals
{
    /// <summary>Σ step loss × images over the finite steps synchronised so far.</summary>
    public double LossSum;
    /// <summary>Images of the steps in <see cref="LossSum"/>.</summary>
    public long LossImages;
    /// <summary>Correct predictions so far.</summary>
    public double Correct;
    /// <summary>1-based batch of the last synchronised step (0: none yet).</summary>
    public int LastBatch;
    /// <summary>That step's loss and accuracy.</summary>
    public double LastLoss, LastAccuracy;
    /// <summary>The last window's mean loss (finite steps) and accuracy.</summary>
    public double WindowLoss, WindowAccuracy;
}
