"""GradeWatch's tests, one folder per package of the source tree."""
