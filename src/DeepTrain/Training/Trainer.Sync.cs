using System.Diagnostics;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>The trainer's host synchronisation (<see cref="SyncEvery"/>) and the diagnosis of a non-finite loss found at a sync point.</summary>
public sealed partial class Trainer
{
    /// <summary>The step window, (re)allocated when the epoch's sync interval needs more steps than it holds.</summary>
    private StepWindow Window(int batches)
    {
        int steps = Math.Max(1, _syncEvery > 0 ? Math.Min(_syncEvery, batches) : batches);
        if (_window is null || _window.Steps < steps)
        {
            _window?.Dispose();
            _window = null;
            _window = new StepWindow(_model.Backend, _train.LossValue, _train.Correct, steps, _accumulation);
        }
        return _window;
    }

    /// <summary>
    /// A sync point: reads the window to the host (one transfer); without a scaler, throws on the first non-finite
    /// loss in it; then adds it to the epoch's totals.
    /// </summary>
    /// <param name="window">The window since the last sync.</param>
    /// <param name="totals">The epoch's sums, which the window is added to.</param>
    /// <param name="epoch">The epoch, for the error message.</param>
    /// <param name="current">The batch of the step just run (its last micro-batch is in the plan's input), or null after the loop.</param>
    private void Synchronize(StepWindow window, ref EpochTotals totals, int epoch, Batch? current)
    {
        window.Read(Scaler?.State);
        if (Scaler is null && window.FirstNonFinite() is var (step, micro))
            throw NonFiniteLoss(window, step, micro, epoch, current);
        window.Fold(ref totals, _loss.CountsCorrect);
    }

    /// <summary>
    /// The error for a non-finite loss at window step <paramref name="step"/>, micro-step <paramref name="micro"/>,
    /// with the first non-finite layer from a checked forward: on the bad micro-batch itself when it is the current
    /// step's (the weights are still those that produced it), else on the current batch with the weights the steps
    /// since have updated.
    /// </summary>
    private NonFiniteLossException NonFiniteLoss(StepWindow window, int step, int micro, int epoch, Batch? current)
    {
        _train.State.AccumulateParamGrads = false;
        int bad = window.Batch(step), last = window.Batch(window.Pending - 1), first = window.Batch(0);
        bool isCurrent = step == window.Pending - 1 && current is not null;
        if (isCurrent && micro != _accumulation - 1) PlanInput.Load(_model.Backend, _loss, _train, current!, micro * _train.BatchSize);
        string where = _accumulation > 1 ? $"batch {bad}, micro-batch {micro} of {_accumulation}" : $"batch {bad}";
        string late = bad == last ? ""
            : $"; found at the host sync after batch {last} (batches {first}–{last} ran between syncs, SyncEvery = {_syncEvery}), so the updates of batches {bad}–{last - 1} used non-finite gradients and the layer below was traced on batch {last}; SyncEvery = 1 stops at the bad batch before its update";
        string layer = current is null ? "the layer was not traced (no batch at hand)" : FirstNonFiniteLayer();
        return new NonFiniteLossException($"epoch {epoch}, {where}: the loss is {window.Loss(step, micro)} (learning rate {window.LearningRate(step):G4}){late}; {layer}; lower the learning rate or check the data");
    }

    /// <summary>Re-runs the batch in the plan's input layer by layer to name the first layer whose output is not finite.</summary>
    private string FirstNonFiniteLayer()
    {
        try { _train.ForwardChecked(); return "every layer's output is finite, so the loss itself overflowed"; }
        catch (NonFiniteException e) { return e.Message; }
    }
}
