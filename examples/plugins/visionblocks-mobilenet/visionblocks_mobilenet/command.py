"""The command ``visionblocks mobilenet``: the MobileNet architectures and their size."""

from visionblocks.learn.choices import architecture_choices


def add_command(subparsers) -> None:
    p = subparsers.add_parser("mobilenet", help="list the MobileNet architectures and their number of parameters")
    p.add_argument("--classes", type=int, default=1000, help="size of the classifier head (default: 1000)")
    p.set_defaults(func=run)


def run(args) -> int:
    from visionblocks.learn.models import build_model, untrained_config  # torch: only when the command runs

    for name in architecture_choices("mobilenet"):
        model = build_model(untrained_config(name, pretrained=False), args.classes)
        count = sum(parameter.numel() for parameter in model.parameters())
        print(f"{name:20} {count:>12,} parameters for {args.classes} classes")
    return 0
