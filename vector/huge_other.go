//go:build !linux

package vector

func adviseHuge[T any](s []T) {}
