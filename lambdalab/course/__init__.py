"""Course tooling for authors and instructors: building labs from solutions, grading submissions."""
