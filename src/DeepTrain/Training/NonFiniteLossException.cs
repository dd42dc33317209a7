namespace DeepTrain.Training;

/// <summary>The loss became NaN or infinite during training.</summary>
public sealed class NonFiniteLossException(string message) : DeepTrainException(message);
