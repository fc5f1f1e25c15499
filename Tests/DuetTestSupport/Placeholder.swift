import DuetFS
