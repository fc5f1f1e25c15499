"""One module per benchmark part (scripts/bench/run --parts): each makes its measurements on the
file system it is given and returns the rows that go into the report under its name."""

FRACTIONS = [0.0, 0.25, 0.5, 0.75, 1.0]  # the foreground's read fractions in the scrub and send parts
