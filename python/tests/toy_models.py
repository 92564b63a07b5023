"""Small models the Python tests share."""


def toy_mlp(torch, path=None, batch=10):
    """The seeded 16 -> 32 -> 8 MLP with a ReLU; with `path`, also its
    import at `batch` rows written there."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 8)).eval()
    if path is not None:
        from quantx import importer
        path.write_text(importer.import_module(model, (torch.zeros(batch, 16),)))
    return model
